"""What goes into the turn-taking machine and what comes out of it (machine.py), and the record of a turn.

Besides the events here, the machine takes the turn detector's SpeechStarted, SpeculativeEnd,
SpeechResumed and TurnEnded (audio/vad.py) and the barge-in trigger's BargeInHeard (audio/capture.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assistant.events import Event
from assistant.questions import AnsweredBy, Question


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
    turn_end_guess: float | None = None  # the chat model's P(the words were all); None: no guess
    marks: dict[str, float] = field(default_factory=dict)  # first_token, first_tts_chunk, first/last_audio
    stored: list[int] = field(default_factory=list)  # the ids of the question and answer as stored

    def latency_ms(self) -> dict[str, float]:
        """Each milestone in ms after the end of the user's speech."""
        points = {"turn_decided": self.decided, "transcript_ready": self.transcript_ready, **self.marks}
        return {f"{k}_ms": round((v - self.speech_end) * 1000, 1) for k, v in points.items() if v}


# -- events in -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Transcribed:
    """The transcript a Transcribe command asked for (error: why there is none)."""

    key: int
    text: str = ""
    duration_s: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class Typed:
    text: str


@dataclass(frozen=True)
class Announcement:
    text: str  # something to say unasked (a timer ringing)


@dataclass(frozen=True)
class AnswerFinished:
    answer: int  # the id StartAnswer or Announce gave it


@dataclass(frozen=True)
class ConfirmAsked:
    question: Question


@dataclass(frozen=True)
class QuestionSpoken:
    question_id: int
    done: bool  # everything said so far has been played (False again while Sori asks once more)


@dataclass(frozen=True)
class ConfirmSettled:
    question_id: int  # the asker stopped waiting (answered here, by a button, or stopped)


@dataclass(frozen=True)
class CaptureFailed:
    message: str


@dataclass(frozen=True)
class SourceEnded:
    """Nothing more will be heard: a turn held open is answered now."""


@dataclass(frozen=True)
class Tick:
    """Time passed (the loop sends it at next_deadline())."""


# -- commands out ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Emit:
    event: Event
    log: bool = False  # also a line in the loop's errors


@dataclass(frozen=True, eq=False)
class Transcribe:
    key: int
    audio: np.ndarray


@dataclass(frozen=True)
class AwaitTranscript:
    """Nothing else can be decided until this transcript is in: wait for it and send it back at once."""

    key: int


@dataclass(frozen=True)
class CancelTranscription:
    key: int


@dataclass(frozen=True)
class Prefill:
    """Get the model's prompt ready for the likely question; its Prefilled comes back."""

    key: int  # the transcription it follows
    text: str


@dataclass(frozen=True)
class Prefilled:
    """A Prefill done: how likely the model thinks the user's turn ends after `text` (None: unknown)."""

    key: int
    text: str
    turn_end: float | None


@dataclass(frozen=True)
class StartAnswer:
    answer: int
    turn: TurnRecord
    source: str  # "spoken" | "typed"
    duration_s: float | None


@dataclass(frozen=True)
class Announce:
    answer: int
    turn_id: int
    text: str


@dataclass(frozen=True)
class BargeInto:
    """Stop this answer now, report the barge-in at t, and wait until its thread has ended.

    withdrawn: an early answer to a question the user then went on with; what it stored is taken back.
    """

    answer: int
    turn_id: int
    t: float
    withdrawn: bool = False


@dataclass(frozen=True)
class TakeBack:
    """An early answer was said in full, and the user went on with the question: take what that turn
    stored out of the conversation (the whole question and its answer come next)."""

    turn_id: int


@dataclass(frozen=True)
class SayInAnswer:
    text: str  # through the answer being spoken


@dataclass(frozen=True)
class Settle:
    question: Question
    allowed: bool
    by: AnsweredBy
    heard: str
    turn_id: int


@dataclass(frozen=True)
class Mute:
    muted: bool  # loudspeaker mode: hear nothing while Sori answers


Command = (
    Emit
    | Transcribe
    | AwaitTranscript
    | CancelTranscription
    | Prefill
    | StartAnswer
    | Announce
    | BargeInto
    | TakeBack
    | SayInAnswer
    | Settle
    | Mute
)
