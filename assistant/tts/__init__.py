"""Text to speech: the engine Protocol and its audio chunk type."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class AudioChunk:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    text: str  # the (normalized) text this chunk speaks

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class TextToSpeech(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        """Speak text, one chunk per sentence, as each is ready."""
        ...
