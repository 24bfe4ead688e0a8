"""The one object between the window and the core.

Bridge lives on the GUI thread. Its methods return at once: they start the work on Python threads (a
single store worker, the model loader, a turn thread, the voice session) and the results come back as
its signals, emitted from those threads and delivered to the window through queued connections. So the
GUI thread never waits for an engine, a tool or the disk.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from assistant.audio.sinks import AudioSink
from assistant.core import Assistant
from assistant.errors import SoriError
from assistant.questions import Question
from assistant.speech import SpeechOutput
from assistant.store import Conversation, ConversationStore
from ui import services
from ui.bridge_voice import TurnResult, VoiceCommands
from ui.voice import ObservedSink, VoiceSession

ROLES = (("llm", "chat model"), ("stt", "speech recognition"), ("tts", "voice"))
CONFIRM_TIMEOUT_S = 120.0  # an unanswered "may I?" is a no


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
    conversationCreated = Signal(object)  # Conversation
    # turns
    userSpoke = Signal(int, str, float)  # conversation id, transcript, seconds of speech
    replyDelta = Signal(int, str)  # conversation id, new text
    replyFinished = Signal(object)  # TurnResult
    busyChanged = Signal(bool)
    stateChanged = Signal(str)  # listening, hearing, transcribing, thinking, speaking, ready
    micChanged = Signal(str)  # off, listening, speaking
    inputLevel = Signal(float)  # 0..1
    confirmRequested = Signal(int, str)  # request id, what the tool will do (answer_confirmation)
    confirmSettled = Signal(int)  # request id: answered (perhaps by voice) or given up; close the question
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
        self.speak_replies = True
        self.hands_free = False
        self.ready: dict[str, bool] = {role: False for role, _ in ROLES}
        self.mic_reason = "the models are still loading"
        self._store_worker = ThreadPoolExecutor(1, thread_name_prefix="sori-ui-store")
        self._store: ConversationStore | None = None
        self._store_lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._sink: AudioSink | None = None
        self._turn: threading.Thread | None = None
        self._turn_active = False
        self._voice_busy = False
        self._cancel = threading.Event()
        self._speech: SpeechOutput | None = None
        self._session: VoiceSession | None = None
        self._spoken_turns: set[int] = set()
        self._speaking = False
        self._muted = False
        self._mic_lost = False  # the microphone went away during a session (to say when it is back)
        self._closed = False
        self._confirmations: dict[int, Question] = {}
        assistant.confirm = self._confirm  # a confirm=True tool asks the user through the window

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
        self._setup_audio()
        tools, errors = services.load_plugins(self.assistant)
        for error in errors[:3]:
            self.notice.emit(
                f"plugin-{error.file}",
                "A plugin failed to load",
                f"{error} (fix it, then reload it in Settings → Plugins)",
            )
        self.pluginsListed.emit(tools, errors)
        self.loadFinished.emit()

    def _setup_audio(self) -> None:
        sink, problem = services.make_output(self.assistant.settings, self.audio_out)
        self._sink = ObservedSink(sink, self._on_speaking) if sink is not None else None
        self.audioOutput.emit(sink is not None, problem)
        if not (self.ready["stt"] and self.ready["tts"]):
            missing = "speech recognition" if not self.ready["stt"] else "the voice"
            self.mic_reason = f"voice input needs {missing}, which did not load (see the message above)"
        elif self.audio_in:
            self.mic_reason = ""
        else:
            self.mic_reason = services.microphone_problem(self.assistant.settings) or ""
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

    def _new_conversation(self) -> int:
        conv: Conversation = self.assistant.store.new_conversation()
        self.conversationCreated.emit(conv)
        return conv.id

    # -- typed turns -----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """An answer is being written or spoken (typed, or a voice turn)."""
        return self._turn_active or self._voice_busy

    def send_text(self, conversation_id: int | None, text: str) -> None:
        """Answer `text` in the conversation (None: a new one); the answer streams as replyDelta."""
        if self._session is not None:
            session = self._session
            session.follow(conversation_id)
            self._store_job(lambda: session.submit_text(text))
            return
        if self._turn_active:
            raise RuntimeError("an answer is still being written; stop it first")
        self._turn_active = True
        self._cancel = threading.Event()
        self._turn = threading.Thread(
            target=self._typed_turn,
            args=(conversation_id, text, self._cancel),
            name="sori-ui-turn",
            daemon=True,
        )
        self.busyChanged.emit(True)
        self.stateChanged.emit("thinking")
        self._turn.start()

    def _typed_turn(self, conversation_id: int | None, text: str, cancel: threading.Event) -> None:
        cid = conversation_id or 0
        result = TurnResult(cid, "", False)
        try:
            self._ensure_store()
            cid = conversation_id if conversation_id is not None else self._new_conversation()
            speech = None
            if self.speak_replies and self.ready["tts"] and self._sink is not None:
                speech = self._speech = SpeechOutput(self.assistant.tts, self._sink)
            reply = self.assistant.reply(
                cid, text, on_delta=lambda d: self.replyDelta.emit(cid, d), speech=speech, cancel=cancel
            )
            calls = list(getattr(reply, "tool_calls", []) or [])
            result = TurnResult(cid, reply.text, reply.complete, False, reply.timings_ms, tool_calls=calls)
        except Exception as exc:  # SoriError has the fix; anything else is a bug, still shown
            message = str(exc) if isinstance(exc, SoriError) else f"{type(exc).__name__}: {exc}"
            self.notice.emit("turn", "Sori could not answer", message)
            result = TurnResult(cid, "", False, error=message)
        finally:
            self._speech = None
            self._speaking = False
            self.stateChanged.emit("listening" if self._session else "ready")
            # Cleared before replyFinished, so the window may send the next question as soon as it has it;
            # the late busyChanged below is harmless: the window asks `busy` for the truth.
            self._turn_active = False
            self.replyFinished.emit(result)
            self.busyChanged.emit(False)
            self._emit_mic()

    def _confirm(self, sentence: str) -> bool:
        """On the turn thread: ask the window, wait for the answer (no answer in time means no)."""
        question = Question(sentence)
        self._confirmations[question.id] = question
        session = self._session
        loop = session.loop if session is not None else None
        try:
            self.confirmRequested.emit(question.id, sentence)
            if loop is not None and loop.answering:
                # A spoken conversation: Sori asks aloud too; a spoken answer or the window's button decides.
                return loop.confirm(question)
            if not question.wait(CONFIRM_TIMEOUT_S):
                question.answer(False, "timeout")
            return bool(question.allowed)
        finally:
            self._confirmations.pop(question.id, None)
            self.confirmSettled.emit(question.id)

    def answer_confirmation(self, request: int, allowed: bool) -> None:
        question = self._confirmations.get(request)
        if question is not None:
            question.answer(allowed, "button")

    def stop_reply(self) -> None:
        """Stop the answer being written and spoken (it is kept, marked as cut off)."""
        for request in list(self._confirmations):
            self.answer_confirmation(request, False)  # a pending question is answered "no"
        self._cancel.set()
        speech = self._speech
        if speech is not None:
            speech.stop()
        if self._session is not None:
            self._session.interrupt()

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
        """Stop speaking and listening, finish the pending writes, close the store and the sink."""
        if self._closed:
            return
        self._closed = True
        session, self._session = self._session, None
        self.stop_reply()
        if session is not None:
            session.stop()
            session.join(timeout)
        if self._turn is not None:
            self._turn.join(timeout)
        self._store_worker.shutdown(wait=True)
        if self._sink is not None:
            self._sink.close()
        if self._store is not None:
            self._store.close()
