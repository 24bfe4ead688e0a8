"""Typed events the voice loop reports to its clients (terminal chat, window, tests).

Every event carries the turn_id of the user turn it belongs to, so a client can drop what belongs to a
turn that was interrupted. Times are on the pipeline clock (time.monotonic()).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

State = Literal["listening", "hearing", "transcribing", "thinking", "speaking", "stopped"]


@dataclass(frozen=True)
class StateChanged:
    turn_id: int
    state: State


@dataclass(frozen=True)
class UserSpeechStarted:
    turn_id: int
    t: float


@dataclass(frozen=True)
class TranscriptReady:
    turn_id: int
    text: str
    duration_s: float


@dataclass(frozen=True)
class ReplyDelta:
    turn_id: int
    text: str


@dataclass(frozen=True)
class ReplyDone:
    turn_id: int
    text: str
    complete: bool
    latency_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BargeIn:
    """The user spoke while Sori was answering turn_id: that answer was stopped."""

    turn_id: int
    t: float


@dataclass(frozen=True)
class ConfirmationAsked:
    """A tool waits for a yes or no: Sori says `sentence` and takes the next utterance as the answer.

    `question_id` names the shared Question (assistant/questions.py) that any front end may answer.
    """

    turn_id: int
    sentence: str
    question_id: int = 0


@dataclass(frozen=True)
class ConfirmationAnswered:
    """What the user said to the question, and how it was read (None: no answer in time)."""

    turn_id: int
    text: str
    allowed: bool
    question_id: int = 0
    by: str = ""  # text, voice, button, timeout, stopped


@dataclass(frozen=True)
class ErrorEvent:
    turn_id: int
    message: str


Event = (
    StateChanged
    | UserSpeechStarted
    | TranscriptReady
    | ReplyDelta
    | ReplyDone
    | BargeIn
    | ConfirmationAsked
    | ConfirmationAnswered
    | ErrorEvent
)
