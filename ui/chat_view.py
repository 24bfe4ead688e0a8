"""The conversation: a scrolling column of message bubbles; the live answer streams into the last one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from assistant.store import Message
from ui.messages import MessageWidget, latency_text

_STICK_PX = 48  # within this distance of the bottom, new text keeps the view scrolled to the end
EMPTY_HINT = (
    "Ask Sori anything.\n\nType below and press Enter, click the microphone,\n"
    "or hold Space in the empty box to talk."
)


class ChatView(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatArea")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName("Conversation")
        self.setToolTip("")  # the bubbles carry their own tooltips
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        container = QWidget(self)
        container.setObjectName("chatContainer")
        self.column = QVBoxLayout(container)
        self.column.setContentsMargins(20, 16, 20, 16)
        self.column.setSpacing(12)
        self.empty_hint = QLabel(EMPTY_HINT, container)
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.column.addWidget(self.empty_hint, 1)
        self.column.addStretch(0)
        self.setWidget(container)
        self.messages: list[MessageWidget] = []
        self.live: MessageWidget | None = None
        self._stick = True
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._remember_position)
        bar.rangeChanged.connect(self._follow)

    # -- content ---------------------------------------------------------------------------------
    def clear(self) -> None:
        for widget in self.messages:
            self.column.removeWidget(widget)
            widget.deleteLater()
        self.messages = []
        self.live = None
        self._stick = True
        self.empty_hint.setVisible(True)

    def show_messages(self, messages: list[Message]) -> None:
        """Replace the view with a stored conversation."""
        self.clear()
        for i, m in enumerate(messages):
            if m.role not in ("user", "assistant"):
                continue
            spoken = m.source == "spoken"
            widget = self._add(
                MessageWidget(m.role, m.text, spoken=spoken, complete=m.complete, tool_calls=m.tool_calls)
            )
            if spoken and m.role == "user":
                answer = next((n for n in messages[i + 1 :] if n.role == "assistant"), None)
                timings = {**m.timings_ms, **(answer.timings_ms if answer else {})}
                widget.set_latency(latency_text(timings, from_speech_end=False, speech_s=m.audio_duration_s))

    def add_user(self, text: str, *, spoken: bool = False, speech_s: float | None = None) -> MessageWidget:
        widget = self._add(MessageWidget("user", text, spoken=spoken))
        if spoken:
            widget.set_latency(latency_text({}, from_speech_end=True, speech_s=speech_s))
        self._stick = True
        return widget

    def append_reply(self, delta: str) -> MessageWidget:
        """Stream text into the live answer (started on the first delta)."""
        if self.live is None:
            self.live = self._add(MessageWidget("assistant"))
            self.live.streaming = True
        self.live.append(delta)
        return self.live

    def finish_reply(self, text: str, complete: bool) -> MessageWidget | None:
        """End the live answer; returns it (None when nothing was written)."""
        live, self.live = self.live, None
        if live is not None and not (text or live.text):  # nothing was said (an error before any text)
            self.messages.remove(live)
            self.column.removeWidget(live)
            live.deleteLater()
            return None
        if live is None and text:
            live = self._add(MessageWidget("assistant"))
        if live is not None:
            live.finish(text, complete)
        return live

    def remove_exchange(self, question: str) -> bool:
        """Take away the last spoken question reading `question` and the answer after it (an early answer
        withdrawn from the conversation); False when it is not shown."""
        shown = [(w.role, w.spoken, w.text) for w in self.messages]
        asked = [i for i, key in enumerate(shown) if key == ("user", True, question)]
        if not asked:
            return False
        start = asked[-1]
        end = start + 1
        while end < len(self.messages) and self.messages[end].role == "assistant":
            end += 1
        for widget in self.messages[start:end]:
            if widget is self.live:
                self.live = None
            self.column.removeWidget(widget)
            widget.deleteLater()
        del self.messages[start:end]
        self.empty_hint.setVisible(not self.messages)
        return True

    def last_spoken_question(self) -> MessageWidget | None:
        for widget in reversed(self.messages):
            if widget.role == "user":
                return widget if widget.spoken else None
        return None

    def _add(self, widget: MessageWidget) -> MessageWidget:
        self.empty_hint.setVisible(False)
        self.column.insertWidget(self.column.count() - 1, widget)
        widget.set_max_bubble_width(self._bubble_width())
        self.messages.append(widget)
        return widget

    # -- looks and scrolling ---------------------------------------------------------------------
    def refresh_icons(self) -> None:
        for widget in self.messages:
            widget.refresh_icons()

    def _bubble_width(self) -> int:
        return int(self.viewport().width() * 0.78)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        width = self._bubble_width()
        for widget in self.messages:
            widget.set_max_bubble_width(width)

    def _remember_position(self, value: int) -> None:
        self._stick = value >= self.verticalScrollBar().maximum() - _STICK_PX

    def _follow(self, _minimum: int, maximum: int) -> None:
        # The content grew: stay at the end if the reader was there (not if they scrolled up to read).
        if self._stick:
            self.verticalScrollBar().setValue(maximum)
