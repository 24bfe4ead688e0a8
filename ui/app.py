"""Starting the desktop app: run_app() for `sori`, create_window() for tests and embedding."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from assistant import paths
from assistant.config import Settings
from assistant.core import Assistant
from ui.bridge import Bridge
from ui.main_window import MainWindow

DEMO_QUESTIONS = ("What is the capital of France?", "Give me three tips for better sleep as a bulleted list.")
SCREENSHOT_TIMEOUT_MS = 10 * 60 * 1000  # give up waiting for models or answers after this long


def ui_settings() -> QSettings:
    """Window layout and UI choices, in an INI file beside the config (so SORI_CONFIG_DIR moves it too)."""
    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Sori")
    app.setApplicationDisplayName("Sori")
    app.setDesktopFileName("io.github.sori.Sori")  # the .desktop entry and Wayland app id
    return app  # type: ignore[return-value]


def create_window(
    assistant: Assistant,
    *,
    audio_in: list[Path] | None = None,
    audio_out: Path | None = None,
    qsettings: QSettings | None = None,
) -> MainWindow:
    """The window with its bridge started: the store opens and the models load in the background."""
    bridge = Bridge(assistant, audio_in=audio_in, audio_out=audio_out)
    window = MainWindow(bridge, qsettings or ui_settings())
    bridge.setParent(window)
    bridge.start()
    return window


def run_app(
    settings: Settings,
    *,
    screenshot: Path | None = None,
    demo: bool = False,
    audio_in: list[Path] | None = None,
    audio_out: Path | None = None,
) -> int:
    """Open the window and run until it closes; returns the exit code.

    screenshot: wait until the models are loaded (and, with demo, a short conversation exists), save a
    PNG of the window there and exit. audio_in/audio_out: files instead of the microphone and speaker.
    """
    app = application()
    window = create_window(Assistant(settings), audio_in=audio_in, audio_out=audio_out)
    window.show()
    if screenshot is None:
        app.aboutToQuit.connect(window.bridge.shutdown)
        return app.exec()
    # A local event loop, not app.exec(): QApplication.exit() would make every later event loop in this
    # process return at once (the state Qt keeps until the next app.exec()), which breaks embedding.
    loop = QEventLoop()
    shooter = _Screenshot(window, Path(screenshot), demo, loop)
    QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, shooter.take)  # never hang a script forever
    loop.exec()
    return shooter.code


class _Screenshot:
    """Waits for the ready window (and the demo answers), saves its picture, then quits."""

    def __init__(self, window: MainWindow, path: Path, demo: bool, loop: QEventLoop) -> None:
        self.window = window
        self.loop = loop
        self.path = path
        self.demo = demo
        self.code = 1
        self.done = False
        self.questions: list[str] = []
        window.ready.connect(self._ready)
        # Queued: the next question goes out after the window has finished showing this answer.
        window.replyShown.connect(lambda _result: self._next_question(), Qt.ConnectionType.QueuedConnection)

    def _ready(self) -> None:
        if not (self.demo and self.window.llm_ready):
            self._settle()
            return
        # Only an empty store gets the demo: a user's own conversations are left alone.
        self.window.bridge.conversationsListed.connect(self._listed, Qt.ConnectionType.QueuedConnection)
        self.window.bridge.list_conversations("")

    def _listed(self, query: str, conversations: list) -> None:
        self.window.bridge.conversationsListed.disconnect(self._listed)
        if conversations:
            self._settle()
            return
        self.window.new_chat()
        self.questions = list(DEMO_QUESTIONS)
        self._next_question()

    def _next_question(self) -> None:
        if not self.questions:
            self._settle()
            return
        self.window.input.box.setPlainText(self.questions.pop(0))
        self.window.send()

    def _settle(self) -> None:
        # Let the last layout and repaint happen (the list refresh, the final markdown) before grabbing.
        QTimer.singleShot(600, self.take)

    def take(self) -> None:
        if self.done:
            return
        self.done = True
        self.window.input.box.clearFocus()  # no blinking caret in the picture
        ok = self.window.grab().save(str(self.path), "PNG")
        if not ok:
            print(f"sori: error: cannot write the screenshot {self.path}", file=sys.stderr)
        self.code = 0 if ok else 1
        self.window.close()
        self.loop.exit(self.code)
