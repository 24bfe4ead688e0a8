"""What the turn-taking machine keeps between events: one record per thing in progress."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assistant.audio.decode import SAMPLE_RATE
from assistant.audio.vad import SpeculativeEnd
from assistant.questions import Question


@dataclass
class Spec:
    """The transcription started at the short silence (of the held audio and this utterance together)."""

    key: int
    event: SpeculativeEnd
    audio: np.ndarray
    text: str | None = None
    duration_s: float = 0.0
    failed: bool = False


@dataclass
class Closing:
    """A turn that ended; its transcript decides what follows."""

    audio: np.ndarray
    t_audio_start: float
    t_speech_end: float
    t_decided: float
    for_question: bool
    key: int = 0
    hit: bool = False  # the speculative transcript serves


@dataclass
class Held:
    """A turn that ended on a pause mid-sentence ("And so my fellow Americans,"): kept open a while."""

    closing: Closing
    text: str
    duration_s: float
    deadline: float | None  # None while the user goes on speaking

    def joined(self, audio: np.ndarray, t_audio_start: float) -> np.ndarray:
        """The held audio, the pause (up to 2 s) and what followed, as one utterance."""
        held = self.closing
        t_end = held.t_audio_start + len(held.audio) / SAMPLE_RATE
        gap_s = 0.0 if math.isnan(t_audio_start) else min(max(0.0, t_audio_start - t_end), 2.0)
        return np.concatenate([held.audio, np.zeros(int(gap_s * SAMPLE_RATE), np.float32), audio])


@dataclass
class Deciding:
    """A turn that ended (by silence) while the model's guess on its transcript was still being made."""

    closing: Closing
    text: str
    duration_s: float
    deadline: float  # then the rules decide without the guess


@dataclass
class Pending:
    """A yes/no question waiting for its answer."""

    question: Question
    said: bool = False  # Sori has finished saying it: silence from here on counts towards the timeout
    hearing: bool = False  # the user is answering: no timeout until it is transcribed
    asked_again: bool = False
    deadline: float | None = None


@dataclass(frozen=True)
class Running:
    answer: int
    turn_id: int
    is_answer: bool  # an answer to a turn (not an announcement)
