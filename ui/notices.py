"""Dismissible messages above the conversation: what went wrong and how to fix it, or an undo offer."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from ui import icons, theme


class Notice(QFrame):
    def __init__(
        self,
        key: str,
        title: str,
        message: str,
        *,
        kind: str,
        action: tuple[str, Callable[[], None]] | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName("notice")
        self.setProperty("kind", kind)
        self.setAccessibleName(f"{title}: {message}")
        self.icon = QLabel(self)
        color = theme.ERROR_RED if kind == "error" else theme.INFO_BLUE
        self.icon.setPixmap(icons.pixmap("warning" if kind == "error" else "info", color, 18))
        self.title = QLabel(title, self)
        self.title.setObjectName("noticeTitle")
        self.message = QLabel(message, self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAccessibleName(message)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.message)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 8, 6, 8)
        row.setSpacing(10)
        row.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(text, 1)
        self.action_button: QPushButton | None = None
        if action is not None:
            label, callback = action
            self.action_button = QPushButton(label, self)
            self.action_button.setAccessibleName(label)
            self.action_button.setToolTip(f"{label}: {title}")
            self.action_button.clicked.connect(callback)
            row.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.dismiss = QToolButton(self)
        self.dismiss.setObjectName("dismissButton")
        self.dismiss.setIconSize(QSize(14, 14))
        self.dismiss.setIcon(icons.icon("close", self.palette().color(QPalette.ColorRole.Text)))
        self.dismiss.setAccessibleName("Dismiss")
        self.dismiss.setToolTip("Dismiss this message")
        row.addWidget(self.dismiss, 0, Qt.AlignmentFlag.AlignTop)


class NoticeArea(QWidget):
    """A column of notices; one per key (a repeated problem replaces its older message)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Messages")
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(16, 8, 16, 0)
        self.layout_.setSpacing(6)
        self.notices: dict[str, Notice] = {}
        self._on_close: dict[str, Callable[[], None] | None] = {}
        self.setVisible(False)

    def show_notice(
        self,
        key: str,
        title: str,
        message: str,
        *,
        kind: str = "error",
        action: tuple[str, Callable[[], None]] | None = None,
        timeout_ms: int | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> Notice:
        """Show a message; on_close runs when it goes away (dismissed, timed out or replaced)."""
        self.dismiss(key)
        notice = Notice(key, title, message, kind=kind, action=action, parent=self)
        self._on_close[key] = on_close
        notice.dismiss.clicked.connect(lambda: self.dismiss(key))
        self.notices[key] = notice
        self.layout_.addWidget(notice)
        self.setVisible(True)
        if timeout_ms is not None:
            timer = QTimer(notice, singleShot=True, interval=timeout_ms)

            def expire() -> None:
                if self.notices.get(key) is notice:
                    self.dismiss(key)

            timer.timeout.connect(expire)
            timer.start()
        return notice

    def ask(self, key: str, title: str, question: str, yes: str, answer: Callable[[bool], None]) -> Notice:
        """A yes/no question: the `yes` button answers True, dismissing it answers False (once)."""
        answered = [False]

        def reply(value: bool) -> None:
            if not answered[0]:
                answered[0] = True
                answer(value)

        def accept() -> None:
            reply(True)
            self.dismiss(key)

        return self.show_notice(
            key, title, question, kind="info", action=(yes, accept), on_close=lambda: reply(False)
        )

    def dismiss(self, key: str) -> None:
        notice = self.notices.pop(key, None)
        on_close = self._on_close.pop(key, None)
        if notice is not None:
            self.layout_.removeWidget(notice)
            notice.deleteLater()
        self.setVisible(bool(self.notices))
        if on_close is not None:
            on_close()

    def has(self, key: str) -> bool:
        return key in self.notices

    def refresh_icons(self, text: QColor) -> None:
        for notice in self.notices.values():
            notice.dismiss.setIcon(icons.icon("close", text))
