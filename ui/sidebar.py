"""The conversation list: new, search by text, rename (F2 or double-click), delete (Del, with undo)."""

from __future__ import annotations

import time

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from assistant.store import Conversation
from ui import icons

SEARCH_DELAY_MS = 250  # wait for a pause in typing before searching the store


class Sidebar(QWidget):
    newRequested = Signal()
    selected = Signal(int)
    renameRequested = Signal(int, str)
    deleteRequested = Signal(int, str)  # id, title (for the undo message)
    searchChanged = Signal(str)
    settingsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.hidden_ids: set[int] = set()  # deleted, waiting for the undo to run out
        self.current_id: int | None = None
        self._conversations: list[Conversation] = []

        self.new_button = QPushButton("New chat", self)
        self.new_button.setObjectName("newChatButton")
        self.new_button.setAccessibleName("New chat")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.setIconSize(QSize(16, 16))
        self.new_button.clicked.connect(self.newRequested)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search conversations")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search conversations")
        self.search.setToolTip("Find conversations containing this text (Ctrl+F)")
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(lambda: self.searchChanged.emit(self.search.text()))
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.list = QListWidget(self)
        self.list.setObjectName("conversationList")
        self.list.setAccessibleName("Conversations")
        self.list.setToolTip("Your conversations. F2 renames, Delete deletes (with undo)")
        self.list.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed | QAbstractItemView.EditTrigger.DoubleClicked
        )
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.itemChanged.connect(self._renamed)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        delete = QAction("Delete conversation", self.list)
        delete.setShortcut(QKeySequence.StandardKey.Delete)
        delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        delete.triggered.connect(self.delete_current)
        self.list.addAction(delete)
        self.settings_button = QToolButton(self)
        self.settings_button.setObjectName("settingsButton")
        self.settings_button.setText("Settings")
        self.settings_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.settings_button.setAccessibleName("Settings")
        self.settings_button.setToolTip("Models, voice, audio devices and plugins (Ctrl+,)")
        self.settings_button.clicked.connect(self.settingsRequested)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 10, 10)
        layout.setSpacing(8)
        top = QHBoxLayout()
        top.addWidget(self.new_button, 1)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.settings_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.refresh_icons()

    def refresh_icons(self) -> None:
        text = self.palette().color(QPalette.ColorRole.ButtonText)
        self.new_button.setIcon(icons.icon("plus", text))
        self.settings_button.setIcon(icons.icon("settings", text))

    # -- content ---------------------------------------------------------------------------------
    def set_conversations(self, conversations: list[Conversation]) -> None:
        self._conversations = list(conversations)
        self.list.blockSignals(True)  # filling the list is not the user choosing or renaming
        self.list.clear()
        for conv in conversations:
            if conv.id in self.hidden_ids:
                continue
            item = QListWidgetItem(conv.title or "New conversation")
            item.setData(Qt.ItemDataRole.UserRole, conv.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            when = time.strftime("%d %b %Y, %H:%M", time.localtime(conv.updated))
            item.setToolTip(f"{conv.title or 'New conversation'}\nlast message {when}")
            self.list.addItem(item)
            if conv.id == self.current_id:
                item.setSelected(True)
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def select(self, conversation_id: int | None) -> None:
        """Show `conversation_id` as the current one without emitting `selected`."""
        self.current_id = conversation_id
        self.list.blockSignals(True)
        self.list.setCurrentItem(None)
        self.list.clearSelection()
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == conversation_id:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def ids(self) -> list[int]:
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.list.count())]

    def hide_conversation(self, conversation_id: int) -> None:
        self.hidden_ids.add(conversation_id)
        self.set_conversations(self._conversations)

    def unhide_conversation(self, conversation_id: int) -> None:
        self.hidden_ids.discard(conversation_id)
        self.set_conversations(self._conversations)

    # -- user actions ----------------------------------------------------------------------------
    def _current_changed(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is not None:
            conversation_id = int(item.data(Qt.ItemDataRole.UserRole))
            if conversation_id != self.current_id:
                self.current_id = conversation_id
                self.selected.emit(conversation_id)

    def _renamed(self, item: QListWidgetItem) -> None:
        title = " ".join(item.text().split())
        if title:
            self.renameRequested.emit(int(item.data(Qt.ItemDataRole.UserRole)), title)

    def delete_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.deleteRequested.emit(int(item.data(Qt.ItemDataRole.UserRole)), item.text())

    def _menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction("Rename", lambda: self.list.editItem(item))
        menu.addAction(
            "Delete", lambda: self.deleteRequested.emit(int(item.data(Qt.ItemDataRole.UserRole)), item.text())
        )
        menu.exec(self.list.viewport().mapToGlobal(pos))
