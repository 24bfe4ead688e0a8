"""Speech to text: the engine Protocol and its result types."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str
    language_probability: float
    duration_s: float
    segments: tuple[Segment, ...]


class SpeechToText(Protocol):
    name: str

    def transcribe(
        self,
        audio: np.ndarray | str | Path,
        *,
        language: str | None = None,
        translate: bool = False,
        likely_language: str | None = None,
    ) -> Transcription:
        """Transcribe a file or a float32 16 kHz mono array. language: the one spoken, None = detect it;
        likely_language: where it is detected, the one the user last spoke (a hint an engine may use)."""
        ...
