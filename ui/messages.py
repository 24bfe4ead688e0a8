"""One chat message on screen: a bubble with the rendered text, a copy button, marks, and tool call cards."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from ui import icons, theme
from ui.markdown import MONO_FAMILIES, to_html

RENDER_INTERVAL_MS = 50  # streamed text is re-rendered at most this often (markdown parsing is not free)

_MILESTONES = (
    ("turn_decided_ms", "end of turn detected"),
    ("transcript_ready_ms", "transcript ready"),
    ("first_token_ms", "first word written"),
    ("first_audio_ms", "first audio"),
    ("last_audio_ms", "finished speaking"),
    ("llm_total_ms", "answer written in"),
)


def latency_text(timings: dict[str, float], *, from_speech_end: bool, speech_s: float | None) -> str:
    """A tooltip describing a spoken turn: how long the question was and when each milestone came."""
    lines = ["Spoken question" + (f" ({speech_s:.1f} s)" if speech_s else "")]
    if timings:
        lines.append("after you stopped speaking:" if from_speech_end else "after the transcript was ready:")
        for key, label in _MILESTONES:
            if key in timings:
                lines.append(f"  {label}: {timings[key] / 1000:.2f} s")
    return "\n".join(lines)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False)


class ToolCallCard(QFrame):
    """A compact card for one tool call; click the header to see its arguments and result."""

    def __init__(self, call: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolCard")
        name = str(call.get("name", "tool"))
        ok = bool(call.get("ok", True))
        duration = call.get("duration_ms")
        summary = f"{name} · {'done' if ok else 'failed'}"
        if isinstance(duration, int | float):
            summary += f" · {duration:.0f} ms"
        self.toggle = QToolButton(self)
        self.toggle.setText(summary)
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.setAccessibleName(f"Tool call {name}")
        self.toggle.setToolTip(f"Show what Sori asked the tool {name} and what it answered")
        result = call.get("result", call.get("content", ""))
        details = f"arguments:\n{_pretty(call.get('arguments', {}))}\n\nresult:\n{_pretty(result)}"
        if call.get("error"):
            details += f"\n\nerror: {call['error']}"
        self.details = QLabel(details, self)
        self.details.setObjectName("toolDetails")
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        mono = self.details.font()
        mono.setFamilies(MONO_FAMILIES)
        self.details.setFont(mono)
        self.details.setAccessibleName(f"Details of the tool call {name}")
        self.details.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(2)
        layout.addWidget(self.toggle)
        layout.addWidget(self.details)
        self.toggle.toggled.connect(self._show)

    def _show(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)


class MessageWidget(QWidget):
    """A user or assistant message. Assistant text is markdown; streamed text is rendered in batches."""

    def __init__(
        self,
        role: str,
        text: str = "",
        *,
        spoken: bool = False,
        complete: bool = True,
        tool_calls: list[dict] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.role = role
        self.text = text
        self.spoken = spoken
        self.complete = complete
        self.streaming = False
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render)

        self.bubble = QFrame(self)
        self.bubble.setObjectName("userBubble" if role == "user" else "assistantBubble")
        inner = QVBoxLayout(self.bubble)
        inner.setContentsMargins(14, 8, 10, 10)
        inner.setSpacing(4)
        header = QHBoxLayout()
        header.setSpacing(6)
        self.role_label = QLabel("You" if role == "user" else "Sori", self.bubble)
        self.role_label.setObjectName("roleLabel")
        header.addWidget(self.role_label)
        self.mic_mark = QLabel(self.bubble)
        self.mic_mark.setObjectName("micMark")
        self.mic_mark.setAccessibleName("Spoken question")
        self.mic_mark.setToolTip("Spoken question")
        self.mic_mark.setVisible(spoken)
        header.addWidget(self.mic_mark)
        self.cut_label = QLabel("· stopped", self.bubble)
        self.cut_label.setObjectName("cutOffLabel")
        self.cut_label.setToolTip("This answer was stopped before it was finished")
        self.cut_label.setVisible(not complete)
        header.addWidget(self.cut_label)
        header.addStretch(1)
        self.copy_button = QToolButton(self.bubble)
        self.copy_button.setObjectName("copyButton")
        self.copy_button.setIconSize(QSize(15, 15))
        self.copy_button.setAccessibleName("Copy message")
        self.copy_button.setToolTip("Copy this message")
        self.copy_button.clicked.connect(self.copy)
        header.addWidget(self.copy_button)
        inner.addLayout(header)
        self.cards: list[ToolCallCard] = []
        self.body = QLabel(self.bubble)
        self.body.setObjectName("messageBody")
        self.body.setWordWrap(True)
        # Answers are markdown, rendered to rich text with shaded code; the user's own text stays as typed.
        self.body.setTextFormat(Qt.TextFormat.PlainText if role == "user" else Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.body.setOpenExternalLinks(True)
        self.body.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.body.setAccessibleName("Your message" if role == "user" else "Sori's answer")
        inner.addWidget(self.body)
        self.set_tool_calls(tool_calls or [])

        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        if role == "user":
            outer.addStretch(1)
        outer.addWidget(self.bubble, 0 if role == "user" else 1)
        self.refresh_icons()
        self._render()

    # -- content ---------------------------------------------------------------------------------
    def append(self, delta: str) -> None:
        """Add streamed text; it is rendered within RENDER_INTERVAL_MS, batched with the next deltas."""
        self.text += delta
        self.streaming = True
        if not self._render_timer.isActive():
            self._render_timer.start()

    def finish(self, text: str | None, complete: bool) -> None:
        """The answer ended: show it as stored (a stopped spoken answer keeps only what was heard)."""
        self._render_timer.stop()
        self.streaming = False
        if text:
            self.text = text
        self.complete = complete
        self.cut_label.setVisible(not complete)
        self._render()

    def set_tool_calls(self, calls: list[dict]) -> None:
        """Show the turn's tool calls as cards above the answer text."""
        layout = self.bubble.layout()
        for card in self.cards:
            layout.removeWidget(card)
            card.deleteLater()
        self.cards = [ToolCallCard(call, self.bubble) for call in calls if isinstance(call, dict)]
        for card in self.cards:
            layout.insertWidget(layout.indexOf(self.body), card)  # in order, each just above the text

    def set_latency(self, tooltip: str) -> None:
        self.mic_mark.setToolTip(tooltip)
        self.bubble.setToolTip(tooltip)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
        self.copy_button.setToolTip("Copied")

    def _render(self) -> None:
        if self.role == "user":
            self.body.setText(self.text)
        else:
            # An answer that has not started yet shows an ellipsis rather than an empty bubble.
            self.body.setText(
                to_html(self.text or "…", theme.colors(self.palette())["code"], self.body.font())
            )

    # -- looks -----------------------------------------------------------------------------------
    def refresh_icons(self) -> None:
        """Re-tint the icons for the current palette (called on palette changes)."""
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText)
        self.copy_button.setIcon(icons.icon("copy", muted))
        self.mic_mark.setPixmap(icons.pixmap("mic", muted, 14))
        if self.role != "user":
            self._render()  # the code shading follows the palette

    def set_max_bubble_width(self, width: int) -> None:
        """User bubbles hug their text up to `width`; a wrapped QLabel would otherwise stay narrow."""
        if self.role != "user":
            return
        width = max(200, width)
        margins = self.bubble.layout().contentsMargins()
        metrics = self.body.fontMetrics()
        natural = max((metrics.horizontalAdvance(line) for line in self.text.splitlines()), default=0)
        wanted = natural + margins.left() + margins.right() + 8
        self.bubble.setMaximumWidth(width)
        self.bubble.setMinimumWidth(min(max(wanted, 160), width))
