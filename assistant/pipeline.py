"""The hands-free voice loop: source -> VAD -> STT -> LLM -> splitter -> TTS -> sink, with barge-in.

Threads and queues only; what to do when is decided by the turn-taking machine (turns/):
- the capture thread reads the source and turns each frame into turn-detector events (audio/capture.py:
  Sori's own echo removed, noise suppressed, muted or gated while Sori speaks);
- the control thread (run()) is the only one that feeds the machine: detector events, transcripts,
  typed lines, announcements, answers ending, a yes/no question's progress; it carries out the commands;
- one STT worker transcribes (speculatively, as soon as a short silence is heard) and prefills the model;
- a turn thread streams one answer at a time through Assistant.reply, which speaks clauses as they
  complete (or says an announcement): answering.py.
Every event carries its turn id; work of an older turn is dropped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from assistant.answering import Answer, reply, say
from assistant.audio.capture import ECHO_TAIL_S, Hearing, PlaybackTap
from assistant.audio.clock import Clock
from assistant.audio.frontend import FrontEnd, make_front_end
from assistant.audio.sinks import AudioSink
from assistant.audio.sources import AudioFrame
from assistant.audio.vad import TurnDetector, VadConfig
from assistant.config import VoiceSettings
from assistant.core import Assistant
from assistant.errors import SoriError
from assistant.events import (
    BargeIn,
    ConfirmationAnswered,
    ConfirmationAsked,
    ErrorEvent,
    Event,
    ReplyDone,
    StateChanged,
    TurnWithdrawn,
)
from assistant.questions import AnsweredBy, Question
from assistant.speech import SpeechOutput
from assistant.text.endings import sounds_unfinished
from assistant.turns import MAX_TURN_S, TurnRecord, TurnTaker
from assistant.turns import messages as msg

_SOURCE_DONE = object()


@dataclass(frozen=True)
class _Crash:
    error: BaseException  # a bug on the STT worker: raised on the control thread, as run()'s own


def _transcript(key: int, future: Future) -> msg.Transcribed:
    try:
        result = future.result()
    except SoriError as exc:
        return msg.Transcribed(key, error=str(exc))
    return msg.Transcribed(key, result.text, result.duration_s)


class VoiceLoop:
    """Runs a spoken conversation from `source` into `sink` until the source ends or stop() is called."""

    def __init__(
        self,
        assistant: Assistant,
        source: Iterable[AudioFrame],
        sink: AudioSink,
        conversation_id: int,
        *,
        voice: VoiceSettings | None = None,
        on_event: Callable[[Event], None] | None = None,
        echo_listeners: list[Callable[[np.ndarray, float], None]] | None = None,
        front_end: FrontEnd | None = None,
    ) -> None:
        self.assistant = assistant
        self.source = source
        self.voice = voice or assistant.settings.voice
        self.conversation_id = conversation_id  # the window may switch it; read as each answer starts
        self.on_event = on_event
        self.clock = Clock()  # the pipeline clock: the sources' and sinks' time base
        # The sink's output latency (play() to sound), where it knows it, is the canceller's delay hint.
        self.echo = front_end or make_front_end(
            assistant.settings.audio, lambda: float(getattr(sink, "latency_s", 0.0) or 0.0)
        )
        self.sink = PlaybackTap(sink, self.echo, echo_listeners, self.clock)
        self.detector = TurnDetector(
            VadConfig(
                aggressiveness=self.voice.vad_aggressiveness,
                min_speech_ms=self.voice.min_speech_ms,
                end_silence_ms=self.voice.end_silence_ms,
                speculative_silence_ms=self.voice.speculative_silence_ms,
                # Whisper transcribes long audio in windows itself; cutting a monologue mid-word loses words.
                max_turn_s=MAX_TURN_S,
            )
        )
        self.hearing = Hearing(self.echo, self.sink, self.detector, barge_in=self.voice.barge_in)
        self.turns: list[TurnRecord] = []  # these three lists grow on the control and turn threads;
        self.announcements: list[tuple[float, str]] = []  # (clock time, text) of what Sori said unasked
        self.errors: list[str] = []  # others read them after run() (an append is atomic)
        self._machine = TurnTaker(self.voice, self.clock)  # the control thread's alone
        self._events: queue.Queue[object] = queue.Queue()
        self._stt = ThreadPoolExecutor(1, thread_name_prefix="sori-stt")
        self._futures: dict[int, Future] = {}  # transcriptions under way (control thread only)
        self._stopping = threading.Event()
        # The answer being given and the current turn id are read by the turn thread (deltas, confirm())
        # and by whoever calls interrupt() or answering; the control thread changes them.
        self._lock = threading.Lock()
        self._answer: Answer | None = None
        self._turn_id = 0

    # -- public ------------------------------------------------------------------------------------
    def run(self) -> list[TurnRecord]:
        capture = threading.Thread(target=self._capture, name="sori-capture", daemon=True)
        capture.start()
        self._emit(StateChanged(self._machine.turn_id, "listening"))
        ended = False
        try:
            # After the source ends, what was heard is still answered (and a question still waits).
            while not (ended and self._machine.idle) and not self._stopping.is_set():
                item = self._next()
                if self._stopping.is_set():
                    break
                if item is _SOURCE_DONE:
                    if not ended:
                        ended = True
                        self._step(msg.SourceEnded())
                    continue
                if isinstance(item, _Crash):
                    raise item.error
                self._step(item)
        finally:
            self._finish(wait=not self._stopping.is_set())
            self._stt.shutdown(wait=True)
            self._emit(StateChanged(self._machine.turn_id, "stopped"))
        return self.turns

    def stop(self) -> None:
        """End the conversation: stop speaking, stop listening."""
        self._stopping.set()
        self.interrupt()
        close = getattr(self.source, "close", None)
        if close:
            close()
        self._events.put(_SOURCE_DONE)

    def interrupt(self) -> None:
        """Stop the answer being written or spoken; keep listening (the window's stop button)."""
        with self._lock:
            answer = self._answer
        if answer is not None:
            answer.cancel.set()
            answer.speech.stop()

    def announce(self, text: str) -> None:
        """Say something unasked (a timer ringing): spoken after any answer being played, and stored."""
        self._events.put(msg.Announcement(text))

    def confirm(self, question: Question | str) -> bool:
        """Ask a yes/no question aloud; the next utterance (or typed line) answers it. Silence means no.

        Called on the turn thread by a confirm=True tool. While the question waits, speech answers it
        instead of interrupting the turn. Anyone else holding the Question (the window's buttons) may
        settle it first; then the loop stops waiting for a spoken answer.
        """
        if isinstance(question, str):
            question = Question(question)
        with self._lock:
            answer, turn_id = self._answer, self._turn_id
        speech = answer.speech if answer is not None else None
        self._events.put(msg.ConfirmAsked(question))
        self._emit(ConfirmationAsked(turn_id, question.sentence, question.id))
        try:
            if speech is not None:
                speech.say(question.sentence)
            said: bool | None = None
            # The control thread decides (a spoken answer, the timeout); this thread tells it when the
            # question has been played and stops waiting when the answer is cancelled.
            while not question.wait(0.05):
                if (answer is not None and answer.cancel.is_set()) or self._stopping.is_set():
                    self._settle(question, False, "stopped", "", turn_id)
                    break
                done = speech is None or speech.drained()
                if done != said:
                    said = done
                    self._events.put(msg.QuestionSpoken(question.id, done))
            return bool(question.allowed)
        finally:
            self._events.put(msg.ConfirmSettled(question.id))

    def submit_text(self, text: str) -> None:
        """A typed turn in the same conversation (it interrupts an answer being spoken)."""
        self._events.put(msg.Typed(text))

    @property
    def answering(self) -> bool:
        with self._lock:
            answer = self._answer
        return answer is not None and answer.thread.is_alive()

    # -- capture thread ----------------------------------------------------------------------------
    def _capture(self) -> None:
        try:
            for frame in self.source:
                for event in self.hearing.hear(frame):
                    self._events.put(event)
        except SoriError as exc:
            self._events.put(msg.CaptureFailed(str(exc)))
        finally:
            self._events.put(_SOURCE_DONE)

    # -- control thread ----------------------------------------------------------------------------
    def _next(self) -> object:
        """The next event, or a Tick when the machine's next deadline comes first."""
        deadline = self._machine.next_deadline()
        timeout = None if deadline is None else max(0.0, deadline - self.clock.now())
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return msg.Tick()

    def _step(self, event: object) -> None:
        """Feed one event and carry out the commands; a transcript waited for goes in right after."""
        pending: list[object] = [event]
        while pending:
            item = pending.pop(0)
            if isinstance(item, msg.Transcribed):
                self._futures.pop(item.key, None)
            commands = self._machine.handle(item)
            with self._lock:
                self._turn_id = self._machine.turn_id
            for command in commands:
                fed = self._do(command)
                if fed is not None:
                    pending.append(fed)

    def _do(self, command: msg.Command) -> msg.Transcribed | None:
        match command:
            case msg.Emit(event=event, log=log):
                if log and isinstance(event, ErrorEvent):
                    self.errors.append(event.message)
                self._emit(event)
            case msg.Transcribe(key=key, audio=audio):
                future = self._stt.submit(self.assistant.transcribe, audio)
                self._futures[key] = future
                future.add_done_callback(lambda f, key=key: self._transcribed(key, f))
            case msg.AwaitTranscript(key=key):
                return _transcript(key, self._futures.pop(key))
            case msg.CancelTranscription(key=key):
                future = self._futures.pop(key, None)
                if future is not None:
                    future.cancel()
            case msg.Prefill(key=key, text=text):
                self._stt.submit(self._prefill, key, text)
            case msg.StartAnswer():
                self._launch(command)
            case msg.Announce(answer=answer, turn_id=turn_id, text=text):
                self._announce(answer, turn_id, text)
            case msg.BargeInto(answer=answer, turn_id=turn_id, t=t, withdrawn=withdrawn):
                self._barge_into(answer, turn_id, t, withdrawn)
            case msg.TakeBack(turn_id=turn_id):
                record = next((r for r in reversed(self.turns) if r.turn_id == turn_id), None)
                if record is not None:
                    self._take_back(record)
            case msg.SayInAnswer(text=text):
                with self._lock:
                    current = self._answer
                if current is not None:
                    current.speech.say(text)
            case msg.Settle(question=question, allowed=allowed, by=by, heard=heard, turn_id=turn_id):
                self._settle(question, allowed, by, heard, turn_id)
            case msg.Mute(muted=muted):
                self.hearing.mute(muted)
        return None

    def _transcribed(self, key: int, future: Future) -> None:
        """On the STT worker: hand the transcript to the control thread."""
        if not future.cancelled():
            try:
                self._events.put(_transcript(key, future))
            except Exception as exc:  # a bug, not a failed transcription: run() raises it
                self._events.put(_Crash(exc))

    def _prefill(self, key: int, text: str) -> None:
        """On the STT worker, right after the transcript it needs: the prompt, and the end-of-turn guess
        (handed on as soon as it is known; a fast-path call's opening is evaluated after it)."""
        guessed: list[float | None] = []

        def guess(turn_end: float | None) -> None:
            guessed.append(turn_end)
            self._events.put(msg.Prefilled(key, text, turn_end))

        try:
            self.assistant.prefill(self.conversation_id, text, on_guess=guess)
        except Exception as exc:  # speculation is optional; the real turn reports real errors
            self.errors.append(f"speculative work failed: {exc}")
        if not guessed:
            self._events.put(msg.Prefilled(key, text, None))

    def _settle(self, question: Question, allowed: bool, by: AnsweredBy, heard: str, turn_id: int) -> None:
        if question.answer(allowed, by, heard):
            self._emit(ConfirmationAnswered(turn_id, heard, allowed, question.id, by))

    def _start(
        self, answer_id: int, turn_id: int, record: TurnRecord | None, target: Callable[..., None], *args
    ) -> Answer:
        """One answer at a time: the machine starts the next only once the last is over or stopped."""
        self._finish(wait=True)
        answer = Answer(answer_id, turn_id, record, SpeechOutput(self.assistant.tts, self.sink))
        answer.thread = threading.Thread(
            target=target, args=(answer, *args), name=f"sori-turn-{turn_id}", daemon=True
        )
        with self._lock:
            self._answer = answer
        self.sink.attach(answer.speech)
        return answer

    def _launch(self, start: msg.StartAnswer) -> None:
        """Answer on the turn thread, so the control thread stays free to hear a barge-in."""
        self.turns.append(start.turn)
        answer = self._start(
            start.answer, start.turn.turn_id, start.turn, self._reply, start.source, start.duration_s
        )
        self._emit(StateChanged(start.turn.turn_id, "thinking"))
        answer.thread.start()

    def _announce(self, answer_id: int, turn_id: int, text: str) -> None:
        answer = self._start(answer_id, turn_id, None, self._say, text)
        self.announcements.append((self.clock.now(), text))
        self.assistant.store.add_message(self.conversation_id, "assistant", text)
        self._emit(ReplyDone(turn_id, text, True))
        answer.thread.start()

    def _barge_into(self, answer_id: int, turn_id: int, t: float, withdrawn: bool = False) -> None:
        with self._lock:
            answer = self._answer
        if answer is None or answer.id != answer_id:
            return
        if answer.record is not None:
            answer.record.barged_in_at = t
        self.interrupt()
        self._emit(BargeIn(turn_id, t))
        answer.thread.join()
        if withdrawn and answer.record is not None:
            self._take_back(answer.record)

    def _take_back(self, record: TurnRecord) -> None:
        # The user went on with the question: the whole of it and its answer come next, and the model must
        # not read the first half twice (nor an answer cut off after a few words).
        if record.stored:
            self.assistant.store.delete_messages(self.conversation_id, record.stored)
            record.stored = []
            self._emit(TurnWithdrawn(record.turn_id, record.transcript))

    def _finish(self, wait: bool) -> None:
        with self._lock:
            answer = self._answer
        if answer is not None and answer.thread.ident is not None:
            if not wait:
                self.interrupt()
            answer.thread.join()

    # -- turn thread -------------------------------------------------------------------------------
    def _say(self, answer: Answer, text: str) -> None:
        say(answer, text, self._emit, lambda: self._events.put(msg.AnswerFinished(answer.id)))

    def _reply(self, answer: Answer, source: str, duration_s: float | None) -> None:
        reply(
            answer,
            self.assistant,
            self.conversation_id,
            source,
            duration_s,
            emit=self._emit,
            current_turn=self._current_turn,
            errors=self.errors,
            finished=lambda: self._events.put(msg.AnswerFinished(answer.id)),
        )

    def _current_turn(self) -> int:
        with self._lock:
            return self._turn_id

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception as exc:  # a client's bug must not stop the conversation
                self.errors.append(f"event handler failed: {exc}")


__all__ = ["ECHO_TAIL_S", "MAX_TURN_S", "TurnRecord", "VoiceLoop", "sounds_unfinished"]
