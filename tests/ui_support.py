"""Helpers shared by the desktop window tests (no tests here). Windows run on Qt's offscreen platform."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import: no display needed

from pathlib import Path  # noqa: E402

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor, QPalette  # noqa: E402

from assistant.core import Assistant  # noqa: E402
from ui.app import create_window  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

LOAD_TIMEOUT_MS = 120_000
ANSWER_TIMEOUT_MS = 180_000


def make_assistant(settings, engines) -> Assistant:
    """An assistant on the session's loaded small-profile engines, with its own store (the test's dir)."""
    assistant = Assistant(settings)
    assistant._stt, assistant._llm, assistant._tts = engines  # as tests/test_llm.py does
    return assistant


def open_window(
    qtbot, settings, engines, *, audio_in: list[Path] | None = None, audio_out: Path | None = None
) -> MainWindow:
    """A shown window whose models have loaded (closed, and its bridge shut down, after the test)."""
    window = create_window(make_assistant(settings, engines), audio_in=audio_in, audio_out=audio_out)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.loaded, timeout=LOAD_TIMEOUT_MS)
    return window


def ask(qtbot, window: MainWindow, text: str, timeout: int = ANSWER_TIMEOUT_MS):
    """Type `text`, press Enter, wait for the answer to be shown; returns the TurnResult."""
    qtbot.waitUntil(lambda: window.input.send.isEnabled(), timeout=timeout)
    with qtbot.waitSignal(window.replyShown, timeout=timeout) as blocker:
        window.input.box.setFocus()
        window.input.box.setPlainText(text)
        qtbot.keyClick(window.input.box, Qt.Key.Key_Return)
    return blocker.args[0]


def shown_messages(window: MainWindow) -> list[tuple[str, str, bool]]:
    """(role, text, complete) of each bubble in the conversation view."""
    return [(m.role, m.text, m.complete) for m in window.chat.messages]


def dark_palette() -> QPalette:
    """A typical dark system palette (what a desktop in dark mode hands to Qt)."""
    pal = QPalette()
    role = QPalette.ColorRole
    for r, color in (
        (role.Window, "#2b2d31"),
        (role.WindowText, "#e6e6e6"),
        (role.Base, "#1e1f22"),
        (role.AlternateBase, "#2b2d31"),
        (role.Text, "#e6e6e6"),
        (role.Button, "#35373c"),
        (role.ButtonText, "#e6e6e6"),
        (role.Highlight, "#4a7fd6"),
        (role.HighlightedText, "#ffffff"),
        (role.PlaceholderText, "#9a9ca3"),
        (role.ToolTipBase, "#35373c"),
        (role.ToolTipText, "#e6e6e6"),
        (role.Link, "#8ab4f8"),
    ):
        pal.setColor(r, QColor(color))
    for disabled in (role.Text, role.ButtonText, role.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, disabled, QColor("#7a7c83"))
    return pal
