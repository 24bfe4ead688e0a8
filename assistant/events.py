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
class TurnWithdrawn:
    """An early answer to `question` was taken back, with the question, from the conversation: the user
    went on speaking, and the whole question is answered next."""

    turn_id: int
    question: str


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
    | TurnWithdrawn
    | ConfirmationAsked
    | ConfirmationAnswered
    | ErrorEvent
)


# -- what a Session reports besides the turns (assistant/session.py) ------------------------------
# These belong to no one turn (a timer, a plugin file, the microphone), except TurnStarted and ToolsUsed.


@dataclass(frozen=True)
class TurnStarted:
    """A typed or spoken question is being answered now, in `conversation_id`."""

    turn_id: int
    conversation_id: int
    text: str
    source: Literal["typed", "spoken"]


@dataclass(frozen=True)
class ToolsUsed:
    """The tool calls of a typed answer (as stored with it), reported just before its ReplyDone."""

    turn_id: int
    calls: tuple[dict, ...]


@dataclass(frozen=True)
class ConversationStarted:
    """A turn needed a conversation and none was open: this one was created for it."""

    conversation_id: int


@dataclass(frozen=True)
class TimerRang:
    """A timer is done (late: it fell due while Sori was closed, or well before it could ring)."""

    message: str
    timer_id: int = 0
    late: bool = False


@dataclass(frozen=True)
class PluginsChanged:
    """The tools Sori can call changed: a plugin file was added, edited or removed (also sent at start)."""

    tools: tuple[str, ...]
    errors: tuple[str, ...]  # "file:line: what is wrong", one per plugin file that failed to load
    first: bool = False  # the first report, at start


@dataclass(frozen=True)
class MicrophoneChanged:
    """The microphone went away (message: why) or is back (message: its name; again: after a loss)."""

    available: bool
    message: str
    again: bool = False


@dataclass(frozen=True)
class InputLevel:
    """How loud the microphone is now, 0..1 (-60 dBFS .. 0 dBFS), at most 20 times a second."""

    level: float


@dataclass(frozen=True)
class SpeakingChanged:
    """Sori's voice (or a chime) started or stopped playing."""

    speaking: bool


@dataclass(frozen=True)
class ListeningStopped:
    """Hands-free listening ended: the source ran out, it was stopped, or it failed (error says why)."""

    error: str = ""


@dataclass(frozen=True)
class SessionWarning:
    """Something is off but the conversation goes on (timers cannot ring, a plugin failed to load)."""

    topic: str  # timers, plugins, microphone
    message: str


SessionEvent = (
    TurnStarted
    | ToolsUsed
    | ConversationStarted
    | TimerRang
    | PluginsChanged
    | MicrophoneChanged
    | InputLevel
    | SpeakingChanged
    | ListeningStopped
    | SessionWarning
)
