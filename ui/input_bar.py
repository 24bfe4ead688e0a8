"""The input area: a multi-line box, send and stop, the microphone with its level meter, hands-free."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui import icons

MAX_LINES = 8


class InputBox(QPlainTextEdit):
    """Enter sends, Shift+Enter adds a line; holding Space while the box is empty is push-to-talk."""

    submitted = Signal()
    talkPressed = Signal()
    talkReleased = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inputBox")
        self.setPlaceholderText("Message Sori…")
        self.setAccessibleName("Message")
        self.setToolTip(
            "Type a message. Enter sends, Shift+Enter starts a new line; hold Space in the empty box to talk"
        )
        self.setTabChangesFocus(True)
        self.talking = False
        self.document().contentsChanged.connect(self._fit_height)
        self._fit_height()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not mods & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        if key == Qt.Key.Key_Space and not mods and (self.talking or not self.toPlainText()):
            if not event.isAutoRepeat() and not self.talking:
                self.talking = True
                self.talkPressed.emit()
            return  # held Space talks; it does not type spaces into the empty box
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Space and self.talking and not event.isAutoRepeat():
            self.talking = False
            self.talkReleased.emit()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.talking:  # the key release goes elsewhere: do not leave the microphone open
            self.talking = False
            self.talkReleased.emit()
        super().focusOutEvent(event)

    def _fit_height(self) -> None:
        # QPlainTextEdit's document height is in lines: grow with the text up to MAX_LINES, then scroll.
        lines = max(1, int(self.document().size().height()))
        shown = min(MAX_LINES, lines)
        self.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if lines > MAX_LINES
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )
        line_h = self.fontMetrics().lineSpacing()
        margins = self.contentsMargins().top() + self.contentsMargins().bottom()
        self.setFixedHeight(shown * line_h + margins + 2 * round(self.document().documentMargin()) + 2)


class InputBar(QWidget):
    """The input box in a rounded frame, with the microphone, hands-free, stop and send beside it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inputPanel")
        self.box = InputBox(self)
        self.mic = QToolButton(self)
        self.mic.setObjectName("micButton")
        self.mic.setCheckable(True)
        self.mic.setFixedSize(QSize(34, 34))
        self.mic.setIconSize(QSize(18, 18))
        self.mic.setAccessibleName("Microphone")
        self.mic.setProperty("micState", "off")
        self.level = QProgressBar(self)
        self.level.setObjectName("levelMeter")
        self.level.setRange(0, 100)
        self.level.setTextVisible(False)
        self.level.setOrientation(Qt.Orientation.Vertical)
        self.level.setFixedSize(QSize(5, 30))
        self.level.setAccessibleName("Input level")
        self.level.setToolTip("How loud the microphone hears you")
        policy = self.level.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.level.setSizePolicy(policy)
        self.hands_free = QCheckBox("Hands-free", self)
        self.hands_free.setAccessibleName("Hands-free")
        self.hands_free.setToolTip(
            "Keep listening after each answer (otherwise the microphone takes one question per click)"
        )
        self.stop = QToolButton(self)
        self.stop.setObjectName("stopButton")
        self.stop.setIconSize(QSize(18, 18))
        self.stop.setAccessibleName("Stop")
        self.stop.setToolTip("Stop the answer and the speech (Esc)")
        self.stop.setEnabled(False)
        self.stop.setVisible(False)
        self.send = QPushButton("Send", self)
        self.send.setObjectName("sendButton")
        self.send.setAccessibleName("Send")
        self.send.setToolTip("Send the message (Enter)")
        self.send.setIconSize(QSize(16, 16))

        frame = QFrame(self)
        frame.setObjectName("inputFrame")
        inner = QHBoxLayout(frame)
        inner.setContentsMargins(8, 4, 6, 4)
        inner.setSpacing(6)
        inner.addWidget(self.box, 1)
        inner.addWidget(self.stop, 0, Qt.AlignmentFlag.AlignBottom)
        inner.addWidget(self.send, 0, Qt.AlignmentFlag.AlignBottom)

        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(self.mic, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.level, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(frame, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 8, 16, 10)
        layout.setSpacing(4)
        layout.addLayout(row)
        options = QHBoxLayout()
        options.setContentsMargins(44, 0, 0, 0)
        options.addWidget(self.hands_free)
        options.addStretch(1)
        layout.addLayout(options)
        self.set_mic_state("off")
        self.refresh_icons()

    def refresh_icons(self) -> None:
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        state = self.mic.property("micState")
        mic_color = text if state == "off" else pal.color(QPalette.ColorRole.HighlightedText)
        if not self.mic.isEnabled():
            mic_color = pal.color(QPalette.ColorRole.PlaceholderText)
        self.mic.setIcon(icons.icon("speaker" if state == "speaking" else "mic", mic_color))
        self.stop.setIcon(
            icons.icon(
                "stop", text if self.stop.isEnabled() else pal.color(QPalette.ColorRole.PlaceholderText)
            )
        )
        self.send.setIcon(icons.icon("send", pal.color(QPalette.ColorRole.HighlightedText)))

    def set_mic_state(self, state: str) -> None:
        """off, listening or speaking: the button's colour, icon, tooltip and checked state follow."""
        self.mic.setProperty("micState", state)
        self.mic.blockSignals(True)
        self.mic.setChecked(state == "listening")
        self.mic.blockSignals(False)
        if self.mic.isEnabled():
            self.mic.setToolTip(
                {
                    "off": "Talk to Sori (Ctrl+M); or hold Space in the empty message box",
                    "listening": "Listening… click to stop (Ctrl+M)",
                    "speaking": "Sori is speaking; talk to interrupt, or click to stop listening",
                }.get(state, "Microphone")
            )
        if state != "listening":
            self.level.setValue(0)
        self.level.setVisible(state == "listening")  # keeps its place (retainSizeWhenHidden)
        self.mic.style().unpolish(self.mic)  # re-apply the style sheet rule for the new state
        self.mic.style().polish(self.mic)
        self.refresh_icons()

    def set_mic_available(self, available: bool, reason: str) -> None:
        self.mic.setEnabled(available)
        self.hands_free.setEnabled(available)
        if not available:
            self.mic.setToolTip(f"Voice input is off: {reason}")
            self.level.setToolTip(f"Voice input is off: {reason}")
        self.set_mic_state(self.mic.property("micState") or "off")

    def set_level(self, level: float) -> None:
        self.level.setValue(round(level * 100))

    def set_busy(self, busy: bool) -> None:
        # Stop is only there while there is something to stop.
        self.stop.setEnabled(busy)
        self.stop.setVisible(busy)
        self.refresh_icons()
