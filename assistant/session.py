"""One conversation with Sori, whatever the front end: the terminal chat, hands-free listening, the window.

A Session owns what every front end needs: the Assistant, the timer service, the plugin watcher, where
sound comes from and goes to, one runner for typed and spoken turns, and the yes/no questions tools ask.
It reports everything through one `on_event` callback with the typed events of assistant/events.py, from
its worker threads; front ends only present them (print them, or turn them into Qt signals). Nothing here
blocks its caller except start() (it loads the plugins), wait(), wait_listening() and close().
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from assistant.audio.sinks import AudioSink
from assistant.audio.sources import AudioFrame
from assistant.config import VoiceSettings
from assistant.core import Assistant
from assistant.errors import SoriError
from assistant.events import (
    ConfirmationAnswered,
    ConfirmationAsked,
    ConversationStarted,
    ErrorEvent,
    MicrophoneChanged,
    ReplyDelta,
    ReplyDone,
    SessionWarning,
    SpeakingChanged,
    StateChanged,
    TimerRang,
    ToolsUsed,
    TurnStarted,
)
from assistant.questions import AnsweredBy, Question
from assistant.session_audio import CHIME_RATE, AudioFactory, Listener, ObservedSink, TurnIds, chime
from assistant.session_plugins import PluginWatch
from assistant.text.yesno import parse_yes_no

if TYPE_CHECKING:
    from assistant.pipeline import VoiceLoop
    from assistant.services.timers import Timer, TimerService

CONFIRM_TIMEOUT_S = 120.0  # an unanswered "may I?" is a no
CHIME_WAIT_S = 60.0  # a chime waits this long at most for the answer being spoken to end

Emit = Callable[[object], None]
# Asks the user on the turn thread and returns the answer, or None to leave it to answer() or a timeout.
Asker = Callable[[Question], "bool | None"]


class Busy(SoriError):
    """A typed question while the previous answer is still being written."""


class Confirmations:
    """Every yes/no question a tool asks, one Question each, settled by whoever answers first.

    While a voice loop is answering, the loop asks aloud and a spoken or typed answer settles it;
    otherwise the asker (a terminal prompt), answer() (a button) or answer_text() does, and no answer
    within `timeout_s` is a no. Each settling is reported once, by whoever settled it.
    """

    def __init__(
        self,
        emit: Emit,
        *,
        asker: Asker | None = None,
        timeout_s: float = CONFIRM_TIMEOUT_S,
        voice: Callable[[], VoiceLoop | None] = lambda: None,
        turn_id: Callable[[], int] = lambda: 0,
    ) -> None:
        self.emit = emit
        self.asker = asker
        self.timeout_s = timeout_s
        self._voice = voice
        self._turn_id = turn_id
        self._pending: dict[int, Question] = {}
        self._lock = threading.Lock()

    def install(self, assistant: Assistant) -> None:
        assistant.confirm = self.ask  # the core calls it on the turn thread before a confirm=True tool

    def ask(self, sentence: str) -> bool:
        question = Question(sentence)
        with self._lock:
            self._pending[question.id] = question
        try:
            loop = self._voice()
            if loop is not None and loop.answering:
                return loop.confirm(question)  # reports the question, and the answer it hears or reads
            self.emit(ConfirmationAsked(self._turn_id(), sentence, question.id))
            if self.asker is not None:
                answer = self.asker(question)
                if answer is not None:
                    self.settle(question, answer, "text")
            if not question.wait(self.timeout_s):
                self.settle(question, False, "timeout")
            return bool(question.allowed)
        finally:
            with self._lock:
                self._pending.pop(question.id, None)

    def settle(self, question: Question, allowed: bool, by: AnsweredBy, heard: str = "") -> bool:
        if not question.answer(allowed, by, heard):
            return False  # someone else answered first
        self.emit(ConfirmationAnswered(self._turn_id(), heard, bool(allowed), question.id, by))
        return True

    @property
    def pending(self) -> list[Question]:
        with self._lock:
            return [q for q in self._pending.values() if not q.settled]

    def answer(self, question_id: int, allowed: bool, by: AnsweredBy = "button") -> bool:
        with self._lock:
            question = self._pending.get(question_id)
        return question is not None and self.settle(question, allowed, by)

    def answer_text(self, text: str) -> bool:
        """A typed line answers the oldest open question (anything but a yes is a no); False: none open."""
        waiting = self.pending
        if not waiting:
            return False
        self.settle(waiting[0], parse_yes_no(text) is True, "text", text)
        return True

    def refuse_all(self, by: AnsweredBy = "stopped") -> None:
        for question in self.pending:
            self.settle(question, False, by)


class Session:
    """Typed and spoken turns in one conversation at a time, with timers, plugins and confirmations."""

    def __init__(
        self,
        assistant: Assistant,
        *,
        on_event: Emit | None = None,
        asker: Asker | None = None,
        confirm_timeout_s: float = CONFIRM_TIMEOUT_S,
        chime: bool = False,
        speak: bool = True,
    ) -> None:
        self.assistant = assistant
        self.on_event = on_event
        self.chime = chime  # a timer rings with a sound (the window); hands-free says it aloud anyway
        self.speak = speak  # typed answers are spoken too, when there is a sink
        self.conversation_id: int | None = None  # None: the next turn starts a new conversation
        self.audio = AudioFactory(
            lambda: self.assistant.settings, lambda *status: self.emit(MicrophoneChanged(*status))
        )
        self.turns = TurnIds()
        self.listener = Listener(self)
        self.confirmations = Confirmations(
            self.emit,
            asker=asker,
            timeout_s=confirm_timeout_s,
            voice=lambda: self.listener.loop if self.listener.active else None,
            turn_id=lambda: self.turns.current,
        )
        self.confirmations.install(assistant)
        self.timers: TimerService | None = None
        self._sink: ObservedSink | None = None
        self._lock = threading.RLock()
        self._creating = threading.Lock()
        self.plugin_watch = PluginWatch(assistant, self.emit, closed=lambda: self._closed)
        self._closed = False
        # typed turns of its own (no voice loop)
        self._turn_active = False
        self._turn_done = threading.Event()
        self._turn_done.set()
        self._cancel = threading.Event()
        self._speech = None

    # -- start and end -----------------------------------------------------------------------------
    def start(self) -> None:
        """Ring timers (those that fell due while Sori was closed at once) and watch the plugin files."""
        self.start_timers()
        self.watch_plugins()

    def start_timers(self) -> None:
        from assistant.services.timers import TimerService

        if self.timers is not None:
            return
        timers = TimerService(on_due=self._timer_due)
        try:
            timers.start()
        except SoriError as exc:  # the conversation still works; only timers cannot ring
            self.emit(SessionWarning("timers", f"timers are off: {exc}"))
            return
        self.timers = timers

    def watch_plugins(self) -> None:
        """Plugin files added, edited or removed from now on take effect within about a second."""
        self.plugin_watch.start()

    @property
    def preparing(self) -> threading.Thread | None:  # prompt prefixes for changed tools, being prepared
        return self.plugin_watch.preparing

    def close(self, *, keep_audio: bool = True, timeout: float = 10.0) -> None:
        """Stop everything this session started; the sink is closed (aborted with keep_audio=False).

        The Assistant is left open: whoever made it closes it.
        """
        from assistant.interrupt import wait_quietly

        if self._closed:
            return
        self._closed = True
        self.interrupt()
        self.listener.close(timeout)
        speech = self._speech
        if speech is not None:
            speech.shutdown()  # the process must not exit while onnxruntime runs
        wait_quietly(self._turn_done, timeout)
        if self.timers is not None:
            self.timers.stop()
        self.plugin_watch.stop()
        sink = self._sink
        if sink is not None:
            sink.close() if keep_audio else getattr(sink, "abort", sink.close)()
        if self.assistant.confirm == self.confirmations.ask:
            self.assistant.confirm = None

    # -- output ------------------------------------------------------------------------------------
    @property
    def sink(self) -> ObservedSink | None:
        return self._sink

    def use_sink(self, sink: AudioSink | None) -> None:
        """Where answers, announcements and chimes are played from now on (None: nowhere)."""
        self._sink = ObservedSink(sink, lambda on: self.emit(SpeakingChanged(on))) if sink else None

    # -- conversation ------------------------------------------------------------------------------
    def follow(self, conversation_id: int | None) -> None:
        """Answer the next turns in this conversation (None: a new one, created by the next turn)."""
        with self._lock:
            self.conversation_id = conversation_id
            loop = self.listener.loop
            if loop is not None and conversation_id is not None:
                loop.conversation_id = conversation_id

    def ensure_conversation(self) -> int:
        """The conversation the next turn goes into, created now if there is none (on a worker thread)."""
        with self._creating:  # one creation at a time; follow() meanwhile does not wait for the disk
            cid = self.conversation_id
            if cid is not None:
                return cid
            cid = self.assistant.store.new_conversation().id
            self.follow(cid)
        self.emit(ConversationStarted(cid))
        return cid

    # -- turns -------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """An answer is being written or spoken (a typed one, or one in the voice loop)."""
        return self._turn_active or self.listener.busy

    @property
    def asking(self) -> bool:
        """A tool waits for a yes or no."""
        return bool(self.confirmations.pending)

    def send(self, text: str) -> None:
        """A typed line: the answer to an open question, a turn for the voice loop while listening, else
        a turn of its own on a worker thread. Returns at once; Busy while an answer is being written."""
        if self.confirmations.answer_text(text):
            return
        with self._lock:
            if self.listener.active:
                self.listener.submit(text)
                return
            if self._turn_active:
                raise Busy("an answer is still being written; stop it first")
            self._turn_active = True
            self._turn_done.clear()
            self._cancel = cancel = threading.Event()
            turn_id = self.turns.new()
            cid = self.conversation_id
        threading.Thread(
            target=self._typed_turn, args=(turn_id, cid, text, cancel), name="sori-turn", daemon=True
        ).start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the typed turn to end (its last event reported); True when none is running."""
        return self._turn_done.wait(timeout)

    def interrupt(self) -> None:
        """Stop the answer being written or spoken (it is kept, marked cut off); an open question is a no.

        Listening goes on."""
        self.confirmations.refuse_all("stopped")
        self._cancel.set()
        speech = self._speech
        if speech is not None:
            speech.stop()
        loop = self.listener.loop
        if loop is not None:
            loop.interrupt()

    def _typed_turn(self, turn_id: int, cid: int | None, text: str, cancel: threading.Event) -> None:
        from assistant.speech import SpeechOutput

        final: object | None = None
        try:
            cid = cid if cid is not None else self.ensure_conversation()
            self.emit(TurnStarted(turn_id, cid, text, "typed"))
            self.emit(StateChanged(turn_id, "thinking"))
            speech = None
            if self.speak and self._sink is not None:
                speech = self._speech = SpeechOutput(self.assistant.tts, self._sink)
            reply = self.assistant.reply(
                cid, text, speech=speech, cancel=cancel, on_delta=lambda d: self.emit(ReplyDelta(turn_id, d))
            )
            if reply.tool_calls:
                self.emit(ToolsUsed(turn_id, tuple(reply.tool_calls)))
            final = ReplyDone(turn_id, reply.text, reply.complete, dict(reply.timings_ms))
        except Exception as exc:  # SoriError has the fix; anything else is a bug, still reported
            final = ErrorEvent(
                turn_id, str(exc) if isinstance(exc, SoriError) else f"{type(exc).__name__}: {exc}"
            )
        finally:
            self._speech = None
            # Free before the last events: a front end may send the next question as soon as it has them.
            self._turn_active = False
            if final is not None:
                self.emit(final)
            self.emit(StateChanged(turn_id, "listening" if self.listener.active else "stopped"))
            self._turn_done.set()

    # -- hands-free (assistant/session_audio.py: Listener) ---------------------------------------
    @property
    def listening(self) -> bool:
        return self.listener.active

    @property
    def gate_open(self) -> bool:
        return self.listener.gate_open

    def listen(
        self,
        source: Iterable[AudioFrame] | Callable[[], Iterable[AudioFrame]],
        *,
        open_: bool = True,
        voice: VoiceSettings | None = None,
    ) -> None:
        """Start a spoken conversation on its own thread (a source, or a function that opens one there:
        opening a device can block). Typed lines join it. It ends when the source does or on
        stop_listening(), with ListeningStopped."""
        self.listener.start(source, open_=open_, voice=voice)

    def set_gate(self, value: bool) -> None:
        """Open or close the microphone (push-to-talk, mute) without closing the device."""
        self.listener.set_gate(value)

    def stop_listening(self) -> None:
        self.listener.stop()

    def wait_listening(self, timeout: float | None = None) -> bool:
        """Wait for listening to end; True when it has."""
        return self.listener.wait(timeout)

    # -- timers ------------------------------------------------------------------------------------
    def _timer_due(self, timer: Timer) -> None:
        """On the timer thread: tell the front end; hands-free says it, the window rings."""
        message = timer.message()
        self.emit(TimerRang(message, timer.id, timer.late))
        loop = self.listener.loop if self.listener.active else None
        if loop is not None:
            self.ensure_conversation()  # the announcement is stored in it
            loop.announce(message)
        elif self.chime and self._sink is not None:
            threading.Thread(target=self._ring, name="sori-chime", daemon=True).start()

    def _ring(self) -> None:
        self._turn_done.wait(CHIME_WAIT_S)  # after the answer being spoken, never over it
        sink = self._sink
        if sink is None or self._closed:
            return
        try:
            sink.play(chime(), CHIME_RATE)
        except SoriError as exc:
            self.emit(SessionWarning("timers", f"the timer could not ring: {exc}"))

    def emit(self, event: object) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception as exc:  # a front end's bug must not stop the conversation
            self.listener.errors.append(f"event handler failed: {type(exc).__name__}: {exc}")


__all__ = ["Busy", "Confirmations", "Session"]
