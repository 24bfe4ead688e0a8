"""Write float32 audio to 16-bit PCM WAV files (stdlib wave), atomically."""

from __future__ import annotations

import os
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def to_int16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class WavWriter:
    """Appends chunks to a mono WAV; the file appears under its name only once closed."""

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.frames = 0
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._wav = wave.open(str(self._tmp), "wb")  # noqa: SIM115 - closed in close()
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)

    def write(self, samples: np.ndarray) -> None:
        self._wav.writeframes(to_int16(samples))
        self.frames += len(samples)

    def close(self) -> None:
        self._wav.close()
        os.replace(self._tmp, self.path)

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_wav(path: str | Path, chunks: Iterable[np.ndarray], sample_rate: int) -> float:
    """Write all chunks; return the duration in seconds."""
    with WavWriter(path, sample_rate) as w:
        for c in chunks:
            w.write(c)
    return w.frames / sample_rate
