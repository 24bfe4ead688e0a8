"""Turn-taking in a spoken conversation: a pure state machine on an injected clock.

Events go in (what the turn detector and the barge-in trigger heard, transcripts, typed lines,
announcements, answers starting and ending, a yes/no question asked and settled, time passing); commands
come out (transcribe this audio, prefill the model, start an answer, barge in on it, say this, settle
the question, emit this event ...). No threads, no locks, no I/O: the voice loop (pipeline.py) feeds it
from one thread and carries its commands out in order.

What it decides is listed in the package's docstring (turns/__init__.py).
"""

from __future__ import annotations

import itertools
from collections import deque

from assistant.audio.capture import BargeInHeard
from assistant.audio.clock import Clock, default_clock
from assistant.audio.decode import SAMPLE_RATE
from assistant.audio.vad import SpeculativeEnd, SpeechResumed, SpeechStarted, TurnEnded
from assistant.config import VoiceSettings
from assistant.events import ErrorEvent, Event, StateChanged, TranscriptReady, UserSpeechStarted
from assistant.text.endings import is_clear_question, stops_mid_phrase
from assistant.text.yesno import parse_yes_no
from assistant.turns import messages as msg
from assistant.turns.asking import Asking
from assistant.turns.messages import TurnRecord
from assistant.turns.rules import finished, may_go_on
from assistant.turns.state import Closing, Deciding, Held, Pending, Running, Spec

MAX_TURN_S = 120.0  # one turn's audio at most (a runaway: noise the VAD took for speech)
# An ended turn waits this long at most for the model's guess (a prompt evaluated cold takes seconds).
GUESS_WAIT_S = 0.5


class TurnTaker(Asking):
    """Feed events with handle(); carry out the commands it returns, in order."""

    def __init__(self, voice: VoiceSettings | None = None, clock: Clock | None = None) -> None:
        self.voice = voice or VoiceSettings()
        self.clock = default_clock(clock)
        self.turn_id = 0
        self._keys = itertools.count(1)
        self._answer_ids = itertools.count(1)
        self._speaking = False  # an utterance is open (SpeechStarted .. TurnEnded)
        self._for_question = False  # ... and it answers the pending question
        self._early: str | None = None  # "answer" | "yes_no": the open utterance was closed early
        self._early_answer = self._early_turn = 0
        self._spec: Spec | None = None
        self._closing: Closing | None = None
        self._held: Held | None = None
        # The chat model's guess that the user's turn is over, by transcript (None: it could not say).
        self._guesses: dict[str, float | None] = {}
        self._guessing: set[str] = set()  # transcripts whose guess is being made
        self._deciding: Deciding | None = None
        self._question: Pending | None = None
        self._running: Running | None = None
        self._answers: deque[msg.StartAnswer] = deque()
        self._announcements: deque[str] = deque()
        self._muted = False
        self._source_ended = False
        self._out: list[msg.Command] = []

    # -- queries -----------------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """Nothing left to decide or say (the loop may end once the source has)."""
        return (
            not (self._running or self._answers or self._announcements or self._held or self._question)
            and self._closing is None
            and self._deciding is None
        )

    def next_deadline(self) -> float | None:
        """When handle(Tick()) has something to do, if ever."""
        held = self._held.deadline if self._held is not None else None
        asked = self._question.deadline if self._question is not None else None
        deciding = self._deciding.deadline if self._deciding is not None else None
        return min((d for d in (held, asked, deciding) if d is not None), default=None)

    # -- events ------------------------------------------------------------------------------------
    def handle(self, event: object) -> list[msg.Command]:
        self._out = []
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"not a turn-taking event: {event!r}")
        handler(self, event)
        self._drain()
        # Loudspeaker mode: hear nothing while Sori answers, except the answer to a question said in full.
        awaiting = self._question is not None and self._question.said
        muted = not self.voice.barge_in and self._running is not None and not awaiting
        if muted != self._muted:
            self._muted = muted
            self._out.append(msg.Mute(muted))
        out, self._out = self._out, []
        return out

    def _emit(self, event: Event, log: bool = False) -> None:
        self._out.append(msg.Emit(event, log))

    def _speech_started(self, e: SpeechStarted) -> None:
        self._speaking, self._early, self._spec = True, None, None
        self._for_question = self._question is not None
        deciding = self._deciding
        if deciding is not None and not self._for_question:
            # The user goes on before the guess came: hold the ended part, as for a pause mid-sentence.
            self._deciding = None
            self._held = Held(deciding.closing, deciding.text, deciding.duration_s, None)
        if self._held is not None and not self._for_question:
            self._held.deadline = None  # the user goes on: one turn, decided at its end
        if self._question is not None:
            # An answer to the question: same turn, no barge-in.
            self._question.hearing, self._question.deadline = True, None
            self._emit(StateChanged(self.turn_id, "hearing"))
            return
        if self._running is not None and self.voice.barge_in:
            self._barge_in(e.t)
        self.turn_id += 1
        self._emit(UserSpeechStarted(self.turn_id, e.t))
        self._emit(StateChanged(self.turn_id, "hearing"))

    def _barge_in_heard(self, e: BargeInHeard) -> None:
        if self._question is None and self.voice.barge_in:
            # Talking over an early answer is going on with the question: that answer is withdrawn.
            early = self._running is not None and self._running.answer == self._early_answer
            self._barge_in(e.t, withdrawn=self._early == "answer" and early)

    def _speculative_end(self, e: SpeculativeEnd) -> None:
        audio = e.audio
        if self._held is not None and not self._for_question:
            audio = self._held.joined(audio, e.t_audio_start)
        self._spec = Spec(next(self._keys), e, audio)
        self._out.append(msg.Transcribe(self._spec.key, audio))

    def _speech_resumed(self, e: SpeechResumed) -> None:
        if self._early == "answer":
            # The user was not done: the early answer is withdrawn, the utterance continues.
            self._early = None
            self._withdraw(self._early_answer, e.t)
        if self._spec is not None:
            self._out.append(msg.CancelTranscription(self._spec.key))  # not started yet: never run it
            self._spec = None

    def _turn_ended(self, e: TurnEnded) -> None:
        self._speaking = False
        if self._early is not None:  # already answered at the short silence
            self._early, self._spec = None, None
            return
        audio, t_audio_start = e.audio, e.t_audio_start
        if self._held is not None and not self._for_question:
            # The user went on after a mid-sentence pause: one utterance, transcribed as a whole.
            audio, t_audio_start = self._held.joined(audio, t_audio_start), self._held.closing.t_audio_start
            self._held = None
        closing = Closing(audio, t_audio_start, e.t_speech_end, e.t_decided, self._for_question)
        spec, self._spec = self._spec, None
        if spec is not None and not spec.failed and len(spec.audio) == len(audio):
            closing.key, closing.hit = spec.key, True
            if spec.text is not None:
                self._closed(closing, spec.text, spec.duration_s)
                return
        else:
            closing.key = next(self._keys)
            self._out.append(msg.Transcribe(closing.key, audio))
        self._closing = closing
        self._out.append(msg.AwaitTranscript(closing.key))

    def _transcribed(self, e: msg.Transcribed) -> None:
        closing, spec = self._closing, self._spec
        if closing is not None and e.key == closing.key:
            self._closing = None
            if e.error is not None:
                self._emit(ErrorEvent(self.turn_id, e.error))
                if closing.for_question and self._question is not None:
                    self._stop_hearing()
                return
            self._closed(closing, e.text, e.duration_s)
        elif spec is not None and e.key == spec.key and spec.text is None and not spec.failed:
            if e.error is not None:
                spec.failed = True  # the end of the turn transcribes again
                return
            spec.text, spec.duration_s = e.text, e.duration_s
            self._speculated(spec)
        # else: stale (speech resumed, or the end of the turn already took it)

    def _speculated(self, spec: Spec) -> None:
        """The transcript at the short silence, while the user may still go on."""
        text = spec.text or ""
        if self._for_question:
            if self._question is not None and parse_yes_no(text) is not None:
                self._early = "yes_no"  # a clear yes or no needs no end-of-turn silence
                self._answer_question(text, final=True, by="voice")
            return
        if text and not self._source_ended:
            self._guess(spec.key, text)

    def _guess(self, key: int, text: str) -> None:
        """Get the model's prompt ready for these words, and its guess whether they are all (once each)."""
        if text not in self._guesses and text not in self._guessing:
            self._guessing.add(text)
            self._out.append(msg.Prefill(key, text))

    def _prefilled(self, e: msg.Prefilled) -> None:
        self._guessing.discard(e.text)
        self._guesses[e.text] = e.turn_end
        spec = self._spec
        if (
            spec is not None
            and (spec.key, spec.text) == (e.key, e.text)
            and not self._for_question
            and self._early is None
            and self.voice.early_end
            and is_clear_question(e.text)
            and finished(e.text, self._guesses.get(e.text), self.voice)
        ):
            # A question the model finds whole is answered at the short silence. A statement waits for the
            # end-of-turn silence: in a monologue each sentence is whole, and an answer started between two
            # of them is withdrawn when the next begins.
            self._answer_early(spec)
        if self._deciding is not None and self._deciding.text == e.text:
            self._decide()

    def _answer_early(self, spec: Spec) -> None:
        self._early = "answer"
        self._held = None
        decided = self.clock.now()
        text = spec.text or ""
        self._early_answer = self._answer(text, spec.duration_s, spec.event.t_speech_end, decided, True)
        self._early_turn = self.turn_id

    def _closed(self, closing: Closing, text: str, duration_s: float) -> None:
        if closing.for_question:
            if self._question is None:
                return  # settled meanwhile (a button): what was said is no turn of its own
            if text.strip():
                self._answer_question(text, final=False, by="voice")
            if self._question is not None:
                self._stop_hearing()
            return
        may_wait = len(closing.audio) < MAX_TURN_S * SAMPLE_RATE and not self._source_ended
        if may_wait and text and not stops_mid_phrase(text) and text not in self._guesses:
            # The guess decides: answer now, or wait longer.
            self._deciding = Deciding(closing, text, duration_s, self.clock.now() + GUESS_WAIT_S)
            self._guess(closing.key, text)
            return
        if may_wait and may_go_on(text, self._guesses.get(text), self.voice):
            deadline = None if self._speaking else self.clock.now() + self.voice.end_silence_ms / 1000
            self._held = Held(closing, text, duration_s, deadline)
            return
        self._answer(text, duration_s, closing.t_speech_end, closing.t_decided, closing.hit)

    def _answer(self, text: str, duration_s: float, speech_end: float, decided: float, hit: bool) -> int:
        guess = self._guesses.get(text)
        self._guesses.clear()
        turn = TurnRecord(self.turn_id, speech_end=speech_end, decided=decided, speculative_hit=hit)
        turn.turn_end_guess = guess
        turn.transcript_ready = self.clock.now()
        turn.transcript = text
        if not text:
            self._emit(StateChanged(turn.turn_id, "listening"))
            return 0
        self._emit(TranscriptReady(turn.turn_id, text, duration_s))
        answer = next(self._answer_ids)
        self._answers.append(msg.StartAnswer(answer, turn, "spoken", duration_s))
        return answer

    def _typed(self, e: msg.Typed) -> None:
        if self._question is not None:
            self._answer_question(e.text, final=True, by="text")
            return
        now = self.clock.now()
        self._barge_in(now)
        self.turn_id += 1
        turn = TurnRecord(self.turn_id, now, now, now, e.text)
        self._answers.append(msg.StartAnswer(next(self._answer_ids), turn, "typed", None))

    def _announcement(self, e: msg.Announcement) -> None:
        self._announcements.append(e.text)

    def _answer_finished(self, e: msg.AnswerFinished) -> None:
        running = self._running
        if running is None or running.answer != e.answer:
            return  # barged in on: already over
        self._running = None
        if running.is_answer and running.turn_id == self.turn_id:
            self._emit(StateChanged(running.turn_id, "listening"))

    def _capture_failed(self, e: msg.CaptureFailed) -> None:
        self._emit(ErrorEvent(self.turn_id, e.message), log=True)

    def _source_end(self, e: msg.SourceEnded) -> None:
        self._source_ended = True
        self._speaking, self._spec = False, None  # an utterance cut off by the end is never finished
        self._decide()
        self._flush_held()

    def _tick(self, e: msg.Tick) -> None:
        now = self.clock.now()
        if self._deciding is not None and now >= self._deciding.deadline:
            self._guesses.setdefault(self._deciding.text, None)  # no guess in time: the rules decide
            self._decide()
        if self._held is not None and self._held.deadline is not None and now >= self._held.deadline:
            self._flush_held()  # the pause really was the end of the turn
        pending = self._question
        if pending is not None and pending.deadline is not None and now >= pending.deadline:
            self._settle(False, "timeout", "")

    # -- helpers -----------------------------------------------------------------------------------
    def _decide(self) -> None:
        deciding, self._deciding = self._deciding, None
        if deciding is not None:
            self._closed(deciding.closing, deciding.text, deciding.duration_s)

    def _flush_held(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            c = held.closing
            self._answer(held.text, held.duration_s, c.t_speech_end, c.t_decided, c.hit)

    def _barge_in(self, t: float, *, withdrawn: bool = False) -> None:
        """Stop the answer being given (the loop waits until its thread is over)."""
        running = self._running
        if running is None:
            return
        self._running = None
        self._out.append(msg.BargeInto(running.answer, running.turn_id, t, withdrawn))
        if running.is_answer and running.turn_id == self.turn_id:
            self._emit(StateChanged(running.turn_id, "listening"))

    def _withdraw(self, answer: int, t: float) -> None:
        if self._running is not None and self._running.answer == answer:
            self._barge_in(t, withdrawn=True)
        elif any(a.answer == answer for a in self._answers):
            self._answers = deque(a for a in self._answers if a.answer != answer)  # never started
        else:  # said in full already: the user heard it, but the conversation keeps the whole question only
            self._out.append(msg.TakeBack(self._early_turn))

    def _drain(self) -> None:
        """Start what waits, one at a time; an announcement never talks over the user."""
        if self._running is not None:
            return
        if self._answers:
            start = self._answers.popleft()
            self._running = Running(start.answer, start.turn.turn_id, True)
            self._out.append(start)
        elif self._announcements and not self._user_busy():
            answer = next(self._answer_ids)
            self._running = Running(answer, self.turn_id, False)
            self._out.append(msg.Announce(answer, self.turn_id, self._announcements.popleft()))

    def _user_busy(self) -> bool:
        return (
            (self._speaking and self._early is None)
            or self._held is not None
            or self._closing is not None
            or self._deciding is not None
        )


_HANDLERS = {
    SpeechStarted: TurnTaker._speech_started,
    BargeInHeard: TurnTaker._barge_in_heard,
    SpeculativeEnd: TurnTaker._speculative_end,
    SpeechResumed: TurnTaker._speech_resumed,
    TurnEnded: TurnTaker._turn_ended,
    msg.Transcribed: TurnTaker._transcribed,
    msg.Prefilled: TurnTaker._prefilled,
    msg.Typed: TurnTaker._typed,
    msg.Announcement: TurnTaker._announcement,
    msg.AnswerFinished: TurnTaker._answer_finished,
    msg.ConfirmAsked: TurnTaker._confirm_asked,
    msg.QuestionSpoken: TurnTaker._question_spoken,
    msg.ConfirmSettled: TurnTaker._confirm_settled,
    msg.CaptureFailed: TurnTaker._capture_failed,
    msg.SourceEnded: TurnTaker._source_end,
    msg.Tick: TurnTaker._tick,
}
