"""The main window: sidebar | notices, conversation and input; status bar; shortcuts; tray; saved layout."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QMainWindow, QSplitter, QVBoxLayout, QWidget

from assistant.store import Conversation, Message
from ui import icons, theme, window_state
from ui.bridge import Bridge, TurnResult
from ui.chat_view import ChatView
from ui.input_bar import InputBar
from ui.messages import latency_text
from ui.notices import NoticeArea
from ui.settings_dialog import SettingsDialog
from ui.sidebar import Sidebar
from ui.status import StatusBar
from ui.tray import Tray

UNDO_MS = 8000  # how long a deleted conversation can be brought back


class MainWindow(QMainWindow):
    ready = Signal()  # the models finished loading (or failed, with a message shown)
    replyShown = Signal(object)  # a TurnResult, after the window showed it (tests and screenshots wait)

    def __init__(self, bridge: Bridge, qsettings: QSettings) -> None:
        super().__init__()
        self.bridge = bridge
        self.qsettings = qsettings
        self.current_id: int | None = None
        self.llm_ready = False
        self.loaded = False
        self._requested: int | None = None
        self._live: dict[int, str] = {}  # answers streaming now, by conversation (shown again on return)
        self._pending_deletes: dict[int, str] = {}
        self._styling = False
        self.setWindowTitle("Sori")
        self.setWindowIcon(icons.app_icon(self.palette().color(QPalette.ColorRole.Highlight)))
        self.setAccessibleName("Sori")
        self.setMinimumSize(640, 460)

        self.sidebar = Sidebar(self)
        self.notices = NoticeArea(self)
        self.chat = ChatView(self)
        self.input = InputBar(self)
        right = QWidget(self)
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.notices)
        column.addWidget(self.chat, 1)
        column.addWidget(self.input)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 760])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.tray = Tray(self, self.windowIcon()) if Tray.available() else None
        if self.tray is not None:
            self.tray.muteToggled.connect(bridge.set_muted)
            self.tray.quitRequested.connect(self.close)

        self._actions()
        self._connect()
        window_state.restore(self)
        self.apply_theme()
        self.input.send.setEnabled(False)
        self.input.send.setToolTip("Send (available once the chat model has loaded)")
        self.input.set_mic_available(False, "the models are still loading")
        self.input.box.setFocus()

    # -- wiring ----------------------------------------------------------------------------------
    def _actions(self) -> None:
        def add(text: str, keys, slot) -> QAction:
            action = QAction(text, self)
            action.setShortcuts(keys if isinstance(keys, list) else [keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
            return action

        add("New chat", QKeySequence.StandardKey.New, self.new_chat)
        add("Search", QKeySequence.StandardKey.Find, self.sidebar.search.setFocus)
        add("Settings", QKeySequence("Ctrl+,"), self.open_settings)
        add("Microphone", QKeySequence("Ctrl+M"), self.input.mic.click)
        # Escape only stops while there is an answer: otherwise it keeps its usual meaning (cancel a rename).
        self.stop_action = add("Stop", QKeySequence(Qt.Key.Key_Escape), self.bridge.stop_reply)
        self.stop_action.setEnabled(False)
        add("Message box", QKeySequence("Ctrl+L"), self.input.box.setFocus)
        add("Quit", QKeySequence.StandardKey.Quit, self.close)

    def _connect(self) -> None:
        b, q = self.bridge, Qt.ConnectionType.QueuedConnection
        b.loadProgress.connect(self.status.set_progress, q)
        b.engineReady.connect(self._engine_ready, q)
        b.engineFailed.connect(self._engine_failed, q)
        b.loadFinished.connect(self._load_finished, q)
        b.micAvailability.connect(self.input.set_mic_available, q)
        b.audioOutput.connect(self.status.set_audio_output, q)
        b.conversationsListed.connect(self._listed, q)
        b.conversationOpened.connect(self._opened, q)
        b.conversationCreated.connect(self._created, q)
        b.userSpoke.connect(self._user_spoke, q)
        b.replyDelta.connect(self._delta, q)
        b.replyFinished.connect(self._finished, q)
        b.turnWithdrawn.connect(self._withdrawn, q)
        b.busyChanged.connect(self._busy, q)
        b.stateChanged.connect(self.status.set_state, q)
        b.micChanged.connect(self.input.set_mic_state, q)
        b.inputLevel.connect(self.input.set_level, q)
        b.notice.connect(lambda key, title, text: self.notices.show_notice(key, title, text), q)
        b.settingsSaved.connect(self._settings_saved, q)
        b.confirmRequested.connect(self._confirm, q)
        b.confirmSettled.connect(self._confirm_settled, q)
        b.timerRang.connect(self._timer_rang, q)
        self.input.box.submitted.connect(self.send)
        self.input.send.clicked.connect(self.send)
        self.input.stop.clicked.connect(b.stop_reply)
        self.input.mic.toggled.connect(self._mic_toggled)
        self.input.box.talkPressed.connect(self._talk_pressed)
        self.input.box.talkReleased.connect(lambda: b.set_listening(False))
        self.input.hands_free.toggled.connect(self._hands_free)
        self.sidebar.newRequested.connect(self.new_chat)
        self.sidebar.selected.connect(self.open_conversation)
        self.sidebar.renameRequested.connect(
            lambda cid, title: b.rename_conversation(cid, title, self._query())
        )
        self.sidebar.deleteRequested.connect(self.delete_conversation)
        self.sidebar.searchChanged.connect(b.list_conversations)
        self.sidebar.settingsRequested.connect(self.open_settings)

    # -- conversations ---------------------------------------------------------------------------
    def _query(self) -> str:
        return self.sidebar.search.text()

    def new_chat(self) -> None:
        """An empty conversation; it is stored when its first message is sent."""
        self.current_id = self._requested = None
        self.chat.clear()
        self.sidebar.select(None)
        self.bridge.follow_conversation(None)
        self.input.box.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        self._requested = conversation_id
        self.bridge.open_conversation(conversation_id)

    def _opened(self, conv: Conversation, messages: list[Message]) -> None:
        if self._requested not in (None, conv.id) or conv.id in self._pending_deletes:
            return  # the user has moved on to another conversation meanwhile
        self.current_id = self._requested = conv.id
        self.chat.show_messages(messages)
        if conv.id in self._live:
            self.chat.append_reply(self._live[conv.id])
        self.sidebar.select(conv.id)
        self.bridge.follow_conversation(conv.id)
        self.setWindowTitle(f"{conv.title or 'New conversation'} — Sori")

    def _created(self, conversation_id: int) -> None:
        if self.current_id is None and self._requested is None:
            self.current_id = conversation_id
            self.sidebar.current_id = conversation_id
        self.bridge.list_conversations(self._query())

    def _listed(self, query: str, conversations: list[Conversation]) -> None:
        if query == self._query():
            self.sidebar.set_conversations(conversations)
            self.sidebar.select(self.current_id)

    def delete_conversation(self, conversation_id: int, title: str) -> None:
        self._pending_deletes[conversation_id] = title
        self.sidebar.hide_conversation(conversation_id)
        if conversation_id == self.current_id:
            self.new_chat()

        def undo() -> None:
            self._pending_deletes.pop(conversation_id, None)
            self.sidebar.unhide_conversation(conversation_id)
            self.notices.dismiss(f"deleted-{conversation_id}")

        self.notices.show_notice(
            f"deleted-{conversation_id}",
            "Conversation deleted",
            f"“{title}” was deleted.",
            kind="info",
            action=("Undo", undo),
            timeout_ms=UNDO_MS,
            on_close=lambda: self._finish_delete(conversation_id),
        )

    def _finish_delete(self, conversation_id: int) -> None:
        if self._pending_deletes.pop(conversation_id, None) is not None:
            self.bridge.delete_conversation(conversation_id, self._query())
            self.sidebar.hidden_ids.discard(conversation_id)

    # -- turns -----------------------------------------------------------------------------------
    def send(self) -> None:
        text = self.input.box.toPlainText().strip()
        if not text or not self.llm_ready:
            return
        if self.bridge.asking:  # a tool waits for a yes or no: this is the answer, not a question
            self.input.box.clear()
            self.bridge.send_text(self.current_id, text)
            return
        if self.bridge.busy and not self.bridge.voice_active:
            return
        self.chat.add_user(text)
        self.input.box.clear()
        self.bridge.send_text(self.current_id, text)

    def _delta(self, conversation_id: int, text: str) -> None:
        self._live[conversation_id] = self._live.get(conversation_id, "") + text
        if conversation_id == self.current_id:
            self.chat.append_reply(text)

    def _finished(self, result: TurnResult) -> None:
        self._live.pop(result.conversation_id, None)
        self._busy(False)
        if result.conversation_id == self.current_id:
            answer = self.chat.finish_reply(result.text, result.complete)
            if answer is not None and result.tool_calls:
                answer.set_tool_calls(result.tool_calls)
            question = self.chat.last_spoken_question() if result.spoken else None
            if question is not None:
                question.set_latency(
                    latency_text(
                        result.latency_ms, from_speech_end=True, speech_s=question.property("speech_s")
                    )
                )
        first_audio = result.latency_ms.get("first_audio_ms")
        if result.spoken or first_audio is not None:
            self.status.set_latency(first_audio, result.spoken)
        self.bridge.list_conversations(self._query())
        self.replyShown.emit(result)

    def _withdrawn(self, conversation_id: int, question: str) -> None:
        # The user went on speaking after an early answer: the stored exchange is gone, and so is its view.
        if conversation_id == self.current_id:
            self.chat.remove_exchange(question)
        self.bridge.list_conversations(self._query())  # the title may have been the withdrawn question

    def _user_spoke(self, conversation_id: int, text: str, speech_s: float) -> None:
        if self.current_id is None:
            self.current_id = conversation_id
        if conversation_id == self.current_id:
            widget = self.chat.add_user(text, spoken=True, speech_s=speech_s)
            widget.setProperty("speech_s", speech_s)

    def _confirm(self, request: int, sentence: str) -> None:
        """A tool asks before it acts: Allow, or dismiss to refuse."""
        self.notices.ask(
            f"confirm-{request}",
            "Sori wants to use a tool",
            f"{sentence} Allow it? (Dismiss to refuse.)",
            "Allow",
            lambda allowed: self.bridge.answer_confirmation(request, allowed),
        )
        self._busy(self.bridge.busy)  # a typed yes or no answers it too

    def _confirm_settled(self, request: int) -> None:
        self.notices.dismiss(f"confirm-{request}")
        self._busy(self.bridge.busy)  # typing goes back to asking questions

    def _timer_rang(self, timer_id: int, message: str) -> None:
        """A timer is done: a notice that stays until dismissed (the chime is played by the session)."""
        self.notices.show_notice(f"timer-{timer_id}", "Timer", message, kind="info")

    def _busy(self, _busy: bool) -> None:
        # Signals from two threads can arrive out of order; the bridge's flag is the truth now.
        busy = self.bridge.busy
        self.input.set_busy(busy)
        self.stop_action.setEnabled(busy)
        open_ = not busy or self.bridge.voice_active or self.bridge.asking
        self.input.send.setEnabled(self.llm_ready and open_)

    # -- models and voice ------------------------------------------------------------------------
    def _engine_ready(self, role: str, name: str) -> None:
        self.status.set_model(role, name)
        if role == "llm":
            self.llm_ready = True
            self.input.send.setEnabled(not self.bridge.busy)
            self.input.send.setToolTip("Send the message (Enter)")

    def _engine_failed(self, role: str, message: str) -> None:
        self.status.set_model(role, message, ok=False)
        if role == "llm":
            self.input.send.setToolTip(f"Sori cannot answer until the chat model loads: {message}")

    def _load_finished(self) -> None:
        self.loaded = True
        self.status.set_progress(1, 1, "")
        self.status.set_state("ready" if self.llm_ready else "no chat model")
        self.ready.emit()

    def _mic_toggled(self, on: bool) -> None:
        if on:
            if not self.bridge.start_voice(self.current_id, open_gate=True):
                self.input.set_mic_state("off")
        else:
            self.bridge.stop_voice()

    def _talk_pressed(self) -> None:
        if self.bridge.voice_active:
            self.bridge.set_listening(True)
        else:
            self.bridge.start_voice(self.current_id, open_gate=True)

    def _hands_free(self, on: bool) -> None:
        self.bridge.hands_free = on

    # -- settings, looks, closing ----------------------------------------------------------------
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.bridge.assistant.settings, self.bridge.speak_replies, self.bridge, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._save_settings)
        dialog.open()

    def _save_settings(self, settings, speak: bool) -> None:
        from ui.services import needs_restart

        self.bridge.speak_replies = speak
        self._restart_needed = needs_restart(self.bridge.assistant.settings, settings)
        self.bridge.save_settings(settings)

    def _settings_saved(self, path: str) -> None:
        extra = " Restart Sori to load the new models." if getattr(self, "_restart_needed", False) else ""
        self.notices.show_notice(
            "settings", "Settings saved", f"Saved to {path}.{extra}", kind="info", timeout_ms=6000
        )

    def apply_theme(self) -> None:
        if self._styling:
            return
        self._styling = True
        try:
            pal = QApplication.palette()
            self.setStyleSheet(theme.stylesheet(pal))
            self.chat.refresh_icons()
            self.input.refresh_icons()
            self.sidebar.refresh_icons()
            self.notices.refresh_icons(pal.color(QPalette.ColorRole.Text))
        finally:
            self._styling = False

    def event(self, event: QEvent) -> bool:
        # The desktop switched light/dark (or its colours): rebuild the style sheet and re-tint icons.
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.ThemeChange):
            QTimer.singleShot(0, self.apply_theme)  # after every child has its new palette too
        return super().event(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        window_state.save(self)
        for conversation_id in list(self._pending_deletes):
            self._finish_delete(conversation_id)
        if self.tray is not None:
            self.tray.icon.hide()
        self.bridge.shutdown()
        event.accept()
