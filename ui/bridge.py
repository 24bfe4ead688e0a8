"""The one object between the window and the core.

Bridge lives on the GUI thread. Its methods return at once: they start the work on Python threads (a
single store worker, the model loader, a turn thread, the voice session) and the results come back as
its signals, emitted from those threads and delivered to the window through queued connections. So the
GUI thread never waits for an engine, a tool or the disk.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from assistant.audio.sinks import AudioSink, NullSink
from assistant.audio.sources import MicrophoneSource, ScriptedSource, ScriptItem
from assistant.core import Assistant
from assistant.errors import SoriError
from assistant.events import ErrorEvent, Event, ReplyDelta, ReplyDone, StateChanged, TranscriptReady
from assistant.speech import SpeechOutput
from assistant.store import Conversation
from ui import services
from ui.voice import ObservedSink, VoiceSession

ROLES = (("llm", "chat model"), ("stt", "speech recognition"), ("tts", "voice"))
CONFIRM_TIMEOUT_S = 120.0  # an unanswered "may I?" is a no


@dataclass(frozen=True)
class TurnResult:
    """How one answer ended: the text as stored, whether it was cut off, and its timings."""

    conversation_id: int
    text: str
    complete: bool
    spoken: bool = False  # the question was spoken (latency_ms is then from the end of the speech)
    latency_ms: dict[str, float] = field(default_factory=dict)
    error: str = ""
    tool_calls: list[dict] | None = None  # None: not known yet (voice turns; the store has them)


class Bridge(QObject):
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
        self._store_open: Future | None = None
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
        self._closed = False
        self._confirmations: dict[int, tuple[threading.Event, list[bool]]] = {}
        self._confirm_ids = itertools.count(1)
        assistant.confirm = self._confirm  # a confirm=True tool asks the user through the window

    # -- start-up --------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the store and list conversations, then load the models in the background."""
        self._store_open = self._store_worker.submit(lambda: self.assistant.store)
        self.list_conversations("")
        self._loader = threading.Thread(target=self._load, name="sori-ui-loader", daemon=True)
        self._loader.start()

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
            if self._store_open is not None:
                self._store_open.result()
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
        request = next(self._confirm_ids)
        answered, answer = threading.Event(), [False]
        self._confirmations[request] = (answered, answer)
        self.confirmRequested.emit(request, sentence)
        answered.wait(CONFIRM_TIMEOUT_S)
        self._confirmations.pop(request, None)
        return answer[0]

    def answer_confirmation(self, request: int, allowed: bool) -> None:
        pending = self._confirmations.pop(request, None)
        if pending is not None:
            pending[1][0] = allowed
            pending[0].set()

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

    # -- voice -----------------------------------------------------------------------------------
    @property
    def voice_active(self) -> bool:
        return self._session is not None

    def start_voice(self, conversation_id: int | None, *, open_gate: bool = True) -> bool:
        """Listen (through the microphone, or the audio_in files); False when voice input is unavailable."""
        if self.mic_reason or self._closed:
            return False
        if self._session is not None:
            self.set_listening(open_gate and not self._muted)
            return True
        holder: list[VoiceSession] = []
        session = VoiceSession(
            self.assistant,
            self._make_source,
            self._sink or NullSink(),
            conversation_id,
            open_gate=open_gate and not self._muted,
            on_event=self._on_voice_event,
            on_level=self.inputLevel.emit,
            on_ended=lambda error: self._voice_ended(holder[0], error),
            new_conversation=self._new_conversation,
        )
        holder.append(session)
        self._session = session
        session.start()
        self.stateChanged.emit("listening")
        self._emit_mic()
        return True

    def stop_voice(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.stop()
        self._emit_mic()

    def set_listening(self, value: bool) -> None:
        """Open or close the microphone gate (push-to-talk, mute) without closing the device."""
        if self._session is not None:
            self._session.set_open(value and not self._muted)
        self._emit_mic()

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        if muted:
            self.set_listening(False)

    def follow_conversation(self, conversation_id: int | None) -> None:
        if self._session is not None:
            self._session.follow(conversation_id)

    def _make_source(self):
        if self.audio_in:
            items = [ScriptItem(path, gap_before_s=0.3) for path in self.audio_in]
            return ScriptedSource(items, tail_silence_s=1.5)
        return MicrophoneSource(self.assistant.settings.audio.input_device)

    def _on_voice_event(self, event: Event, conversation_id: int) -> None:
        if isinstance(event, StateChanged):
            if event.state == "thinking":
                self._voice_busy = True
                self.busyChanged.emit(True)
            elif event.state in ("listening", "stopped"):
                self._speaking = False
                self._voice_busy = False
                self.busyChanged.emit(False)
            self.stateChanged.emit(event.state if event.state != "stopped" else "ready")
            self._emit_mic()
        elif isinstance(event, TranscriptReady):
            self._spoken_turns.add(event.turn_id)
            self.userSpoke.emit(conversation_id, event.text, event.duration_s)
            if not (self.hands_free or self.audio_in) and self._session is not None:
                self._session.set_open(False)  # one question per click; hands-free keeps listening
                self._emit_mic()
        elif isinstance(event, ReplyDelta):
            self.replyDelta.emit(conversation_id, event.text)
        elif isinstance(event, ReplyDone):
            spoken = event.turn_id in self._spoken_turns
            self.replyFinished.emit(
                TurnResult(conversation_id, event.text, event.complete, spoken, dict(event.latency_ms))
            )
        elif isinstance(event, ErrorEvent):
            self.notice.emit("voice", "Voice conversation", event.message)

    def _voice_ended(self, session: VoiceSession, error: str | None) -> None:
        if error is not None:
            title = "The microphone stopped" if "microphone" in error.lower() else "Voice conversation"
            self.notice.emit("voice", title, error)
        if self._session is session:  # not a newer session started meanwhile
            self._session = None
            self._voice_busy = False
        if self._closed:
            return
        self.busyChanged.emit(self.busy)
        self.stateChanged.emit("ready")
        self._emit_mic()

    def _on_speaking(self, speaking: bool) -> None:
        if speaking and not self._speaking:
            self._speaking = True
            self.stateChanged.emit("speaking")
            self._emit_mic()

    def _emit_mic(self) -> None:
        session = self._session
        if self._speaking:
            self.micChanged.emit("speaking")
        elif session is not None and session.is_open:
            self.micChanged.emit("listening")
        else:
            self.micChanged.emit("off")

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
            services.apply_live(self.assistant, settings, tts_loaded=self.ready["tts"])
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
        opened = self._store_open
        if opened is not None and opened.done() and opened.exception() is None:
            opened.result().close()
