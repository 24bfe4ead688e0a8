"""The one object between the window and the core: a Qt adapter over assistant.session.Session.

Bridge lives on the GUI thread. Its methods return at once: the Session runs turns, listening, timers and
the plugin watcher on its own threads; the store and settings work runs on one store worker, the models
load on a loader thread. Results come back as signals, emitted from those threads and delivered to the
window through queued connections. So the GUI thread never waits for an engine, a tool or the disk.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from assistant.core import Assistant
from assistant.errors import SoriError
from assistant.session import Session
from assistant.store import ConversationStore
from ui import services
from ui.bridge_voice import TurnResult, VoiceCommands

ROLES = (("llm", "chat model"), ("stt", "speech recognition"), ("tts", "voice"))

__all__ = ["Bridge", "TurnResult"]


class Bridge(QObject, VoiceCommands):
    # models and devices
    loadProgress = Signal(int, int, str)  # done, total, what is loading now
    engineReady = Signal(str, str)  # role, model name
    engineFailed = Signal(str, str)  # role, message with the fix
    loadFinished = Signal()
    micAvailability = Signal(bool, str)  # usable, why not
    audioOutput = Signal(bool, str)  # usable, why not
    # conversations
    conversationsListed = Signal(str, object)  # query, list[Conversation]
    conversationOpened = Signal(object, object)  # Conversation, list[Message]
    conversationCreated = Signal(int)  # conversation id (a turn started a new conversation)
    # turns
    userSpoke = Signal(int, str, float)  # conversation id, transcript, seconds of speech
    replyDelta = Signal(int, str)  # conversation id, new text
    replyFinished = Signal(object)  # TurnResult
    turnWithdrawn = Signal(int, str)  # conversation id, the question taken back with its early answer
    busyChanged = Signal(bool)
    stateChanged = Signal(str)  # listening, hearing, transcribing, thinking, speaking, ready
    micChanged = Signal(str)  # off, listening, speaking
    inputLevel = Signal(float)  # 0..1
    confirmRequested = Signal(int, str)  # question id, what the tool will do (answer_confirmation)
    confirmSettled = Signal(int)  # question id: answered (by button, typed or spoken) or given up
    timerRang = Signal(int, str)  # timer id, what to tell the user
    # everything that went wrong, with its fix
    notice = Signal(str, str, str)  # key, title, message
    # settings
    settingsSaved = Signal(str)  # path written
    pluginsListed = Signal(object, object)  # [(name, description, source)], [LoadError]
    devicesListed = Signal(object, str)  # [Device], error

    def __init__(
        self,
        assistant: Assistant,
        *,
        audio_in: list[Path] | None = None,
        audio_out: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.assistant = assistant
        self.audio_in = list(audio_in or [])
        self.audio_out = audio_out
        self.hands_free = False
        self.ready: dict[str, bool] = {role: False for role, _ in ROLES}
        self.mic_reason = "the models are still loading"
        # A timer rings with a chime here; a tool's question is answered by a notice's buttons (no asker).
        self.session = Session(assistant, on_event=self._on_event, chime=True, speak=False)
        self._speak_replies = True
        self._store_worker = ThreadPoolExecutor(1, thread_name_prefix="sori-ui-store")
        self._store: ConversationStore | None = None
        self._store_lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._init_voice()
        self._closed = False

    # -- start-up --------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the store and list conversations, then load the models in the background."""
        self.list_conversations("")
        self._loader = threading.Thread(target=self._load, name="sori-ui-loader", daemon=True)
        self._loader.start()

    def _ensure_store(self) -> ConversationStore:
        """Open the store once (on whichever worker needs it first), reporting a repair to the user."""
        with self._store_lock:
            if self._store is None:
                # A damaged database is moved aside with a warning: show it, not just a log line.
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", RuntimeWarning)
                    self._store = self.assistant.store
                for warning in caught:
                    self.notice.emit("store-repair", "Conversation history was damaged", str(warning.message))
            return self._store

    def _load(self) -> None:
        # The sink first: a timer that fell due while Sori was closed rings (with its chime) right away.
        sink, problem = self.session.audio.try_output(self.audio_out)
        self.session.use_sink(sink)
        self.audioOutput.emit(sink is not None, problem)
        self.session.start_timers()
        total = len(ROLES)
        for done, (role, label) in enumerate(ROLES):
            self.loadProgress.emit(done, total, label)
            try:
                engine = getattr(self.assistant, role)
                load = getattr(engine, "load", None)
                if load is not None:
                    load()
            except Exception as exc:  # SoriError has the fix; anything else is still shown, not fatal
                message = str(exc) if isinstance(exc, SoriError) else f"{type(exc).__name__}: {exc}"
                self.engineFailed.emit(role, message)
                self.notice.emit(f"engine-{role}", f"The {label} is unavailable", message)
            else:
                self.ready[role] = True
                self.engineReady.emit(role, getattr(engine, "name", role))
        self.loadProgress.emit(total, total, "")
        self.speak_replies = self._speak_replies  # now that the voice is known to work (or not)
        self._setup_microphone()
        self.session.watch_plugins()  # plugin files dropped in while the window is open take effect
        tools, errors = services.load_plugins(self.assistant)
        for error in errors[:3]:
            self.notice.emit(
                f"plugin-{error.file}",
                "A plugin failed to load",
                f"{error} (fix it, then reload it in Settings → Plugins)",
            )
        self.pluginsListed.emit(tools, errors)
        self.loadFinished.emit()

    def _setup_microphone(self) -> None:
        if not (self.ready["stt"] and self.ready["tts"]):
            missing = "speech recognition" if not self.ready["stt"] else "the voice"
            self.mic_reason = f"voice input needs {missing}, which did not load (see the message above)"
        elif self.audio_in:
            self.mic_reason = ""
        else:
            self.mic_reason = self.session.audio.microphone_problem() or ""
        self.micAvailability.emit(not self.mic_reason, self.mic_reason)

    # -- conversations (all on the store worker) -------------------------------------------------
    def _store_job(self, job: Callable[[], None]) -> None:
        def run() -> None:
            try:
                self._ensure_store()
                job()
            except SoriError as exc:
                self.notice.emit("store", "Conversation history", str(exc))

        if not self._closed:
            self._store_worker.submit(run)

    def list_conversations(self, query: str) -> None:
        self._store_job(lambda: self.conversationsListed.emit(query, self.assistant.store.search(query)))

    def open_conversation(self, conversation_id: int) -> None:
        def job() -> None:
            store = self.assistant.store
            self.conversationOpened.emit(
                store.get_conversation(conversation_id), store.messages(conversation_id)
            )

        self._store_job(job)

    def open_latest(self, preferred: int | None) -> None:
        """Open `preferred` if it still exists, else the most recent conversation (if any)."""

        def job() -> None:
            store = self.assistant.store
            ids = {c.id for c in store.list_conversations()}
            conv = store.get_conversation(preferred) if preferred in ids else store.latest_conversation()
            if conv is not None:
                self.conversationOpened.emit(conv, store.messages(conv.id))

        self._store_job(job)

    def rename_conversation(self, conversation_id: int, title: str, query: str = "") -> None:
        def job() -> None:
            self.assistant.store.rename_conversation(conversation_id, title)
            self.conversationsListed.emit(query, self.assistant.store.search(query))

        self._store_job(job)

    def delete_conversation(self, conversation_id: int, query: str = "") -> None:
        def job() -> None:
            self.assistant.store.delete_conversation(conversation_id)
            self.conversationsListed.emit(query, self.assistant.store.search(query))

        self._store_job(job)

    # -- typed turns -----------------------------------------------------------------------------
    @property
    def speak_replies(self) -> bool:
        return self._speak_replies

    @speak_replies.setter
    def speak_replies(self, value: bool) -> None:
        self._speak_replies = value
        self.session.speak = value and self.ready["tts"]

    @property
    def busy(self) -> bool:
        """An answer is being written or spoken (typed, or a voice turn)."""
        return self.session.busy

    @property
    def asking(self) -> bool:
        """A tool waits for a yes or no (a typed line now answers it)."""
        return self.session.asking

    def send_text(self, conversation_id: int | None, text: str) -> None:
        """Answer `text` in the conversation (None: a new one); the answer streams as replyDelta.

        While a tool waits for a yes or no, the text answers it instead."""
        if not self.session.asking:
            self.session.follow(conversation_id)
        self.session.send(text)  # Busy (a SoriError) while an answer is still being written

    def answer_confirmation(self, request: int, allowed: bool) -> None:
        self.session.confirmations.answer(request, allowed, "button")

    def stop_reply(self) -> None:
        """Stop the answer being written and spoken (it is kept, marked as cut off); a question is a no."""
        self.session.interrupt()

    # -- settings --------------------------------------------------------------------------------
    def list_plugins(self, reload: bool = False) -> None:
        """Report the tools and plugin load errors; reload=True reads the plugin files again first."""
        self._store_job(
            lambda: self.pluginsListed.emit(*services.load_plugins(self.assistant, reload=reload))
        )

    def list_devices(self) -> None:
        self._store_job(lambda: self.devicesListed.emit(*services.devices()))

    def save_settings(self, settings) -> None:
        """Write the settings to the config file (off the GUI thread) and use them from now on."""

        def job() -> None:
            path = services.write_settings(settings)
            problem = services.apply_live(self.assistant, settings, tts_loaded=self.ready["tts"])
            if problem:
                self.notice.emit("voice", "The voice was not changed", problem)
            self.settingsSaved.emit(str(path))

        self._store_job(job)

    # -- shutdown --------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop speaking, listening, timers and the plugin watcher; finish the pending writes; close the
        store and the sink."""
        if self._closed:
            return
        self._closed = True
        self.session.close(timeout=timeout)
        self._store_worker.shutdown(wait=True)
        if self._store is not None:
            self._store.close()
