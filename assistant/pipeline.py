"""The hands-free voice loop: source -> VAD -> STT -> LLM -> splitter -> TTS -> sink, with barge-in.

Threads: a capture thread reads the source, cleans it (audio/frontend.py: Sori's own echo removed, noise
suppressed) and runs the turn detector; the control thread (run()) owns turn ids and reacts to the
detector's events; one STT worker transcribes (speculatively, as soon as a short silence is heard); a
turn thread streams one answer at a time through Assistant.reply, which speaks clauses as they complete.
Every event carries its turn id; work of an older turn is dropped.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from assistant.audio.bargein import OverSpeechGate
from assistant.audio.decode import SAMPLE_RATE
from assistant.audio.echo import to_16k
from assistant.audio.frontend import FrontEnd, make_front_end
from assistant.audio.sinks import AudioSink
from assistant.audio.sources import AudioFrame
from assistant.audio.vad import (
    SpeculativeEnd,
    SpeechResumed,
    SpeechStarted,
    TurnDetector,
    TurnEnded,
    VadConfig,
)
from assistant.config import VoiceSettings
from assistant.core import Assistant
from assistant.errors import SoriError
from assistant.events import (
    BargeIn,
    ConfirmationAnswered,
    ConfirmationAsked,
    ErrorEvent,
    Event,
    ReplyDelta,
    ReplyDone,
    StateChanged,
    TranscriptReady,
    UserSpeechStarted,
)
from assistant.questions import AnsweredBy, Question
from assistant.speech import SpeechOutput
from assistant.text.yesno import parse_yes_no

_SOURCE_DONE = object()
MAX_TURN_S = 120.0  # one turn's audio at most (a runaway: noise the VAD took for speech)
ECHO_TAIL_S = 0.5  # a living room's reverberation after Sori's voice stops (RT60 up to 0.7 s)


@dataclass(frozen=True)
class _Typed:
    text: str


@dataclass
class _Confirmation:
    """A yes/no question waiting on the turn thread; the control thread answers it from what it hears."""

    question: Question
    hearing: bool = False  # the user is speaking (their answer): no timeout until it is transcribed
    asked_again: bool = False


@dataclass
class _Held:
    """A turn that ended on a pause mid-sentence ("And so my fellow Americans,"): kept open a while."""

    audio: np.ndarray
    t_audio_start: float
    speech_end: float
    decided: float
    text: str
    duration_s: float
    deadline: float

    @property
    def t_audio_end(self) -> float:
        return self.t_audio_start + len(self.audio) / SAMPLE_RATE


_UNFINISHED_WORDS = {
    "and",
    "but",
    "or",
    "so",
    "because",
    "the",
    "a",
    "an",
    "to",
    "of",
    "with",
    "if",
    "that",
    "my",
    "your",
    "is",
    "are",
    "for",
    "in",
    "on",
    "at",
    "then",
}


def sounds_unfinished(text: str) -> bool:
    """Whether a transcript stops mid-sentence (a trailing comma, or a word that needs a continuation)."""
    text = text.strip()
    if not text:
        return False
    if text[-1] in ",;:-–—" or text.endswith(("...", "…")):
        return True
    last = re.sub(r"[^a-z']", "", text.split()[-1].lower())
    # Whisper ends a finished sentence with punctuation; bare words mean it heard a pause mid-sentence.
    return text[-1].isalnum() or last in _UNFINISHED_WORDS


@dataclass(frozen=True)
class _Announce:
    text: str


@dataclass(frozen=True)
class _QuickBargeIn:
    t: float  # onset of the speech heard over Sori's voice


@dataclass
class TurnRecord:
    """One user turn and Sori's answer, with pipeline-clock times of each milestone."""

    turn_id: int
    speech_end: float = 0.0
    decided: float = 0.0
    transcript_ready: float = 0.0
    transcript: str = ""
    reply: str = ""
    complete: bool = False
    barged_in_at: float | None = None
    speculative_hit: bool = False
    marks: dict[str, float] = field(default_factory=dict)  # first_token, first_tts_chunk, first/last_audio

    def latency_ms(self) -> dict[str, float]:
        """Each milestone in ms after the end of the user's speech."""
        points = {"turn_decided": self.decided, "transcript_ready": self.transcript_ready, **self.marks}
        return {f"{k}_ms": round((v - self.speech_end) * 1000, 1) for k, v in points.items() if v}


def _stt_timings(turn: TurnRecord) -> dict[str, float]:
    """The hearing side of a spoken turn, in ms after the end of speech (stored with both messages)."""
    return {
        "stt_turn_decided_ms": (turn.decided - turn.speech_end) * 1000,
        "stt_transcript_ready_ms": (turn.transcript_ready - turn.speech_end) * 1000,
    }


class _TapSink:
    """Passes audio to the real sink and tells the front end (and listeners) what is being played."""

    def __init__(
        self, sink: AudioSink, echo: FrontEnd, listeners: list[Callable[[np.ndarray, float], None]]
    ):
        self.sink, self.echo, self.listeners = sink, echo, listeners
        self.until = float("-inf")  # clock time the audio handed over so far ends

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        t = time.monotonic()
        ref = to_16k(samples, sample_rate)
        self.until = t + len(samples) / sample_rate + float(getattr(self.sink, "latency_s", 0.0) or 0.0)
        self.echo.played(ref, t)
        for listener in self.listeners:
            listener(ref, t)
        self.sink.play(samples, sample_rate)

    def stop(self) -> None:
        self.sink.stop()
        now = time.monotonic()
        self.until = min(self.until, now)
        self.echo.stopped(now)

    def close(self) -> None:
        pass  # the loop's owner closes the real sink


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
        self.conversation_id = conversation_id
        self.on_event = on_event
        # The sink's output latency (play() to sound), where it knows it, is the canceller's delay hint.
        self.echo = front_end or make_front_end(
            assistant.settings.audio, lambda: float(getattr(sink, "latency_s", 0.0) or 0.0)
        )
        self.sink = _TapSink(sink, self.echo, list(echo_listeners or []))
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
        self.turns: list[TurnRecord] = []
        self.announcements: list[tuple[float, str]] = []  # (clock time, text) of what Sori said unasked
        self.errors: list[str] = []
        self._events: queue.Queue[object] = queue.Queue()
        self._stt = ThreadPoolExecutor(1, thread_name_prefix="sori-stt")
        self._turn_id = 0
        self._speculative: tuple[int, Future] | None = None
        self._early_closed = False  # the current utterance was already answered at the short silence
        self._turn_thread: threading.Thread | None = None
        self._speech: SpeechOutput | None = None
        self._cancel = threading.Event()
        self._stopping = threading.Event()
        self._gate = OverSpeechGate()  # while Sori speaks, only its strict trigger may start a turn
        self._held: _Held | None = None
        self._speculative_hit = False
        self._confirmation: _Confirmation | None = None
        self._answered_early = False  # the early close was a yes/no answer, not a turn to withdraw

    # -- public ------------------------------------------------------------------------------------
    def run(self) -> list[TurnRecord]:
        capture = threading.Thread(target=self._capture, name="sori-capture", daemon=True)
        capture.start()
        self._emit(StateChanged(self._turn_id, "listening"))
        try:
            while True:
                held = self._held
                try:
                    timeout = None if held is None else max(0.0, held.deadline - time.monotonic())
                    item = self._events.get(timeout=timeout)
                except queue.Empty:
                    self._held = None  # the pause really was the end of the turn
                    self._answer_transcript(
                        held.audio, held.speech_end, held.decided, held.text, held.duration_s
                    )
                    continue
                if item is _SOURCE_DONE or self._stopping.is_set():
                    break
                self._handle(item)
            if self._held is not None and not self._stopping.is_set():
                held, self._held = self._held, None
                self._answer_transcript(held.audio, held.speech_end, held.decided, held.text, held.duration_s)
        finally:
            self._finish_turn(wait=not self._stopping.is_set())
            self._stt.shutdown(wait=True)
            self._emit(StateChanged(self._turn_id, "stopped"))
        return self.turns

    def stop(self) -> None:
        """End the conversation: stop speaking, stop listening."""
        self._stopping.set()
        self._interrupt()
        close = getattr(self.source, "close", None)
        if close:
            close()
        self._events.put(_SOURCE_DONE)

    def interrupt(self) -> None:
        """Stop the answer being written or spoken; keep listening (the window's stop button)."""
        self._interrupt()

    def announce(self, text: str) -> None:
        """Say something unasked (a timer ringing): spoken after any answer being played, and stored."""
        self._events.put(_Announce(text))

    def confirm(self, question: Question | str) -> bool:
        """Ask a yes/no question aloud; the next utterance (or typed line) answers it. Silence means no.

        Called on the turn thread by a confirm=True tool. While the question waits, speech answers it
        instead of interrupting the turn. Anyone else holding the Question (the window's buttons) may
        settle it first; then the loop stops waiting for a spoken answer.
        """
        if isinstance(question, str):
            question = Question(question)
        pending = _Confirmation(question)
        cancel, speech, turn_id = self._cancel, self._speech, self._turn_id
        self._confirmation = pending
        self._emit(ConfirmationAsked(turn_id, question.sentence, question.id))
        try:
            if speech is not None:
                speech.say(question.sentence)
            deadline: float | None = None
            while not question.wait(0.05):
                if cancel.is_set() or self._stopping.is_set():
                    self._settle(question, False, "stopped", "")
                    break
                # Silence means no: the time counts from the end of the question, not while Sori says it
                # or while the user is answering.
                if pending.hearing or (speech is not None and not speech.drained()):
                    deadline = None
                    continue
                if deadline is None:
                    deadline = time.monotonic() + self.voice.confirm_timeout_s
                if time.monotonic() > deadline:
                    self._settle(question, False, "timeout", "")
            return bool(question.allowed)
        finally:
            self._confirmation = None

    def _settle(self, question: Question, allowed: bool, by: AnsweredBy, heard: str) -> None:
        if question.answer(allowed, by, heard):
            self._emit(ConfirmationAnswered(self._turn_id, heard, allowed, question.id, by))

    def submit_text(self, text: str) -> None:
        """A typed turn in the same conversation (it interrupts an answer being spoken)."""
        self._events.put(_Typed(text))

    @property
    def answering(self) -> bool:
        return self._turn_thread is not None and self._turn_thread.is_alive()

    # -- capture thread ----------------------------------------------------------------------------
    def _capture(self) -> None:
        try:
            for frame in self.source:
                # Every frame goes through the front end, so its echo and noise estimates stay current.
                samples = self.echo.process(frame.samples, frame.t_start)
                if self.answering and not self.voice.barge_in and not self._awaiting_answer():
                    samples = np.zeros_like(samples)  # loudspeaker mode: nothing heard while answering
                heard = AudioFrame(samples, frame.t_start, frame.index)
                settled = bool(getattr(self.echo, "settled", False))
                denoised = getattr(self.echo, "denoised", None)  # what the barge-in trigger hears
                # The room rings on after the speaker stops: its echo is Sori's voice too.
                ringing = self.voice.barge_in and frame.t_start < self.sink.until + ECHO_TAIL_S
                deaf = bool(getattr(self.echo, "learning", False))
                fired, frames = self._gate.feed(heard, self._speaking() or ringing, settled, denoised, deaf)
                if fired:
                    self._events.put(_QuickBargeIn(self._gate.onset))
                for f in frames:
                    for event in self.detector.process(f):
                        self._events.put(event)
        except SoriError as exc:
            self._events.put(ErrorEvent(self._turn_id, str(exc)))
        finally:
            self._events.put(_SOURCE_DONE)

    def _awaiting_answer(self) -> bool:
        """A yes/no question has been said in full and waits for the user."""
        speech = self._speech
        return self._confirmation is not None and (speech is None or speech.drained())

    def _speaking(self) -> bool:
        speech = self._speech
        return (
            self.voice.barge_in
            and speech is not None
            and speech.first_audio_t is not None
            and speech.is_active
        )

    # -- control thread ----------------------------------------------------------------------------
    def _handle(self, event: object) -> None:
        if isinstance(event, _QuickBargeIn):
            if self.answering and self._confirmation is None:
                self._barge_in(event.t)
        elif isinstance(event, SpeechStarted):
            if self._confirmation is not None:
                # An answer to the question: same turn, no barge-in.
                self._confirmation.hearing = True
                self._emit(StateChanged(self._turn_id, "hearing"))
                return
            if self.answering and self.voice.barge_in:
                self._barge_in(event.t)
            self._turn_id += 1
            self._early_closed = False
            self._emit(UserSpeechStarted(self._turn_id, event.t))
            self._emit(StateChanged(self._turn_id, "hearing"))
        elif isinstance(event, SpeculativeEnd):
            turn_id = self._turn_id
            future = self._stt.submit(self.assistant.transcribe, event.audio)
            self._speculative = (turn_id, future)
            if self._confirmation is not None:
                self._try_early_answer(future)
                return
            future.add_done_callback(lambda f: self._prefill(turn_id, f))
            if self.voice.early_end:
                self._try_early_end(event)
        elif isinstance(event, SpeechResumed):
            if self._early_closed and not self._answered_early:
                # The user was not done: the early answer is withdrawn, the utterance continues.
                self._barge_in(event.t)
                self._early_closed = False
            if self._speculative is not None:
                self._speculative[1].cancel()  # not started yet: never run it
            self._speculative = None
        elif isinstance(event, TurnEnded):
            if self._early_closed:
                self._early_closed = self._answered_early = False
                return
            self._end_of_turn(event)
        elif isinstance(event, _Announce):
            self._finish_turn(wait=True)  # after the answer being spoken, never over it
            self.announcements.append((time.monotonic(), event.text))
            self.assistant.store.add_message(self.conversation_id, "assistant", event.text)
            self._emit(ReplyDone(self._turn_id, event.text, True))
            self._speech = SpeechOutput(self.assistant.tts, self.sink)
            self._turn_thread = threading.Thread(
                target=self._say, args=(self._speech, event.text), daemon=True
            )
            self._turn_thread.start()
        elif isinstance(event, _Typed):
            if self._confirmation is not None:
                self._answer_confirmation(event.text, final=True, by="text")
                return
            if self.answering:
                self._barge_in(time.monotonic())
            self._turn_id += 1
            now = time.monotonic()
            self._launch(TurnRecord(self._turn_id, now, now, now, event.text), "typed", None)
        elif isinstance(event, ErrorEvent):
            self.errors.append(event.message)
            self._emit(event)

    def _prefill(self, turn_id: int, future: Future) -> None:
        """Once the speculative transcript exists, evaluate the prompt it implies (on the STT worker)."""
        if (
            future.cancelled()
            or future.exception() is not None
            or self._early_closed
            or turn_id != self._turn_id
        ):
            return
        text = future.result().text
        if text:
            self._stt.submit(self._quietly, self.assistant.prefill, self.conversation_id, text)

    def _quietly(self, fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:  # speculation is optional; the real turn reports real errors
            self.errors.append(f"speculative work failed: {exc}")

    def _try_early_end(self, event: SpeculativeEnd) -> None:
        """Answer at the short silence when the transcript is plainly a finished question."""
        assert self._speculative is not None
        try:
            text = self._speculative[1].result().text.strip()
        except SoriError:
            return  # the end-of-turn path transcribes again and reports the error
        if text.endswith("?") and len(text.split()) >= 3 and self._events.empty():
            self._early_closed = True
            self._start_turn(event.audio, getattr(event, "t_speech_end", event.t), time.monotonic())

    def _try_early_answer(self, future: Future) -> None:
        """A clear yes or no needs no end-of-turn silence."""
        try:
            text = future.result().text
        except SoriError:
            return
        if parse_yes_no(text) is not None:
            self._early_closed = self._answered_early = True
            self._answer_confirmation(text, final=True, by="voice")

    def _answer_confirmation(self, text: str, final: bool, by: AnsweredBy) -> None:
        pending = self._confirmation
        if pending is None:
            return
        answer = parse_yes_no(text)
        if answer is None and not pending.asked_again and not final:
            pending.asked_again = True
            if self._speech is not None:
                self._speech.say("Please say yes or no.")
            return
        self._settle(pending.question, bool(answer), by, text)

    def _end_of_turn(self, event: TurnEnded) -> None:
        pending = self._confirmation
        if pending is not None:
            result = self._transcribe(event.audio)
            if result is not None and result.text.strip():
                self._answer_confirmation(result.text, final=False, by="voice")
            pending.hearing = False
            return
        audio, t_audio_start = event.audio, event.t_audio_start
        held, self._held = self._held, None
        if held is not None:
            # The user went on after a mid-sentence pause: one utterance, transcribed as a whole.
            gap = int(min(max(0.0, t_audio_start - held.t_audio_end), 2.0) * SAMPLE_RATE)
            audio = np.concatenate([held.audio, np.zeros(gap, np.float32), audio])
            t_audio_start = held.t_audio_start
            self._speculative = None
        result = self._transcribe(audio)
        if result is None:
            return
        if sounds_unfinished(result.text) and len(audio) < MAX_TURN_S * SAMPLE_RATE:
            extra = self.voice.end_silence_ms / 1000
            self._held = _Held(
                audio,
                t_audio_start,
                event.t_speech_end,
                event.t_decided,
                result.text,
                result.duration_s,
                time.monotonic() + extra,
            )
            return
        self._answer_transcript(audio, event.t_speech_end, event.t_decided, result.text, result.duration_s)

    def _transcribe(self, audio: np.ndarray):
        """The turn's transcript: the speculative one when it covers this audio, else a fresh one."""
        spec, self._speculative = self._speculative, None
        future = spec[1] if spec is not None and spec[0] == self._turn_id else None
        self._speculative_hit = future is not None
        if future is None:
            future = self._stt.submit(self.assistant.transcribe, audio)
        try:
            return future.result()
        except SoriError as exc:
            self._emit(ErrorEvent(self._turn_id, str(exc)))
            return None

    def _start_turn(self, audio: np.ndarray, speech_end: float, decided: float) -> None:
        """Answer now (early end of turn on a clear question)."""
        result = self._transcribe(audio)
        if result is not None:
            self._answer_transcript(audio, speech_end, decided, result.text, result.duration_s)

    def _answer_transcript(
        self, audio: np.ndarray, speech_end: float, decided: float, text: str, duration_s: float
    ) -> None:
        turn = TurnRecord(self._turn_id, speech_end=speech_end, decided=decided)
        turn.speculative_hit = self._speculative_hit
        turn.transcript_ready = time.monotonic()
        turn.transcript = text
        if not text:
            self._emit(StateChanged(turn.turn_id, "listening"))
            return
        self._emit(TranscriptReady(turn.turn_id, text, duration_s))
        self._launch(turn, "spoken", duration_s)

    def _launch(self, turn: TurnRecord, source: str, duration_s: float | None) -> None:
        """Answer on the turn thread, so the control thread stays free to hear a barge-in."""
        self._finish_turn(wait=True)
        self.turns.append(turn)
        self._cancel = threading.Event()
        self._speech = SpeechOutput(self.assistant.tts, self.sink)
        self._turn_thread = threading.Thread(
            target=self._answer,
            args=(turn, source, duration_s, self._speech, self._cancel),
            name=f"sori-turn-{turn.turn_id}",
            daemon=True,
        )
        self._emit(StateChanged(turn.turn_id, "thinking"))
        self._turn_thread.start()

    def _barge_in(self, t: float) -> None:
        turn = self.turns[-1] if self.turns else None
        if turn is not None and self.answering:
            turn.barged_in_at = t
            self._interrupt()
            self._emit(BargeIn(turn.turn_id, t))
            self._finish_turn(wait=True)

    def _interrupt(self) -> None:
        self._cancel.set()
        if self._speech is not None:
            self._speech.stop()

    def _finish_turn(self, wait: bool) -> None:
        if self._turn_thread is not None:
            if not wait:
                self._interrupt()
            self._turn_thread.join()
            self._turn_thread = None

    # -- turn thread -------------------------------------------------------------------------------
    def _say(self, speech: SpeechOutput, text: str) -> None:
        try:
            speech.say(text)
            speech.finish()
        except SoriError as exc:
            self._emit(ErrorEvent(self._turn_id, str(exc)))

    def _answer(
        self,
        turn: TurnRecord,
        source: str,
        duration_s: float | None,
        speech: SpeechOutput,
        cancel: threading.Event,
    ) -> None:
        def delta(text: str) -> None:
            if turn.turn_id == self._turn_id:
                self._emit(ReplyDelta(turn.turn_id, text))

        try:
            reply = self.assistant.reply(
                self.conversation_id,
                turn.transcript,
                source=source,
                audio_duration_s=duration_s,
                on_delta=delta,
                speech=speech,
                cancel=cancel,
                timings_ms=_stt_timings(turn) if source == "spoken" else None,
                origin=turn.speech_end if source == "spoken" else None,
            )
            turn.reply, turn.complete, turn.marks = reply.text, reply.complete, reply.marks
            self._emit(ReplyDone(turn.turn_id, reply.text, reply.complete, turn.latency_ms()))
        except SoriError as exc:
            self.errors.append(str(exc))
            self._emit(ErrorEvent(turn.turn_id, str(exc)))
        if turn.turn_id == self._turn_id:
            self._emit(StateChanged(turn.turn_id, "listening"))

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception as exc:  # a client's bug must not stop the conversation
                self.errors.append(f"event handler failed: {exc}")


__all__ = ["TurnRecord", "VoiceLoop", "sounds_unfinished"]
