"""What the window remembers between runs (QSettings): size, splitter, voice choices, last conversation."""

from __future__ import annotations

from typing import Any, Protocol


class RememberedWindow(Protocol):
    """What this module reads and writes on the main window (a Protocol, so it need not import it)."""

    qsettings: Any
    splitter: Any
    bridge: Any
    input: Any
    current_id: int | None

    def restoreGeometry(self, geometry: Any) -> bool: ...  # noqa: N802 - Qt's name
    def saveGeometry(self) -> Any: ...  # noqa: N802 - Qt's name
    def resize(self, width: int, height: int) -> None: ...

DEFAULT_SIZE = (1040, 720)


def restore(window: RememberedWindow) -> None:
    """Apply the saved state, and ask the bridge to reopen the last conversation."""
    s = window.qsettings
    geometry = s.value("window/geometry")
    if geometry is None or not window.restoreGeometry(geometry):
        window.resize(*DEFAULT_SIZE)
    splitter = s.value("window/splitter")
    if splitter is not None:
        window.splitter.restoreState(splitter)
    window.bridge.speak_replies = s.value("voice/speak_replies", True, type=bool)
    window.input.hands_free.setChecked(s.value("voice/hands_free", False, type=bool))
    window.bridge.hands_free = window.input.hands_free.isChecked()
    last = s.value("conversation/last", "")
    window.bridge.open_latest(int(last) if str(last).isdigit() else None)


def save(window: RememberedWindow) -> None:
    s = window.qsettings
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/splitter", window.splitter.saveState())
    s.setValue("voice/speak_replies", window.bridge.speak_replies)
    s.setValue("voice/hands_free", window.input.hands_free.isChecked())
    s.setValue("conversation/last", window.current_id if window.current_id is not None else "")
    s.sync()
