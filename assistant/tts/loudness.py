"""Every voice at one loudness, its peaks kept below full scale.

Voices come out at their own level: the default (hibari) speaks at about -25 dBFS, Piper's joe at about
-20 with peaks at full scale. Switching voices changed the volume by 5 dB, and a quiet voice is a weaker
reference for the echo canceller: on the simulated rooms of `sori bench echo` (default profile, room sets
0-4), the default voice brought to -20 dBFS leaves 0.2-3.2 dB less echo (median ERLE 26.5-29.6 dB, was
25.5-28.5) and is interrupted 7-21 ms sooner. Louder targets cancel better still (-16 on sets 0-2:
27.4-30.6 dB) but limit Piper's peaks hard (15 % of its loud samples turned down by over 1 dB, against 2 %
at -20).

The gain follows the voice, not each sentence: it is set by the level of all the speech the voice has
said so far (the RMS of its 10 ms windows within 40 dB of the loudest, so pauses do not count), so a
short "Sure." does not come out louder than the sentence after it. Peaks the gain would push above
-1 dBFS are turned down by a look-ahead limiter: a gain that reaches its floor a few milliseconds before
the peak and recovers as smoothly (no clicks, no clipping).
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from assistant.audio.sources import speech_power

CEILING = 10 ** (-1.0 / 20)  # -1 dBFS
MAX_GAIN_DB = 20.0  # a voice is never made more than 20 dB louder or quieter
_SMOOTH_S = 0.002  # the limiter's gain reaches its floor over 2 ms before a peak, and leaves it as slowly


def limit(samples: np.ndarray, sample_rate: int, ceiling: float = CEILING) -> np.ndarray:
    """The samples with every peak above `ceiling` turned down smoothly; unchanged when there is none."""
    x = np.asarray(samples, np.float32)
    peak = np.abs(x)
    if x.size == 0 or float(peak.max()) <= ceiling:
        return x
    r = max(1, round(_SMOOTH_S * sample_rate))
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    # The least gain within r samples either side, then its average over r either side: every average
    # holds the sample's own need, so no sample ends above the ceiling, and the gain has no steps.
    floor = sliding_window_view(np.pad(need, 3 * r, mode="edge"), 4 * r + 1).min(axis=1)  # N + 2r
    gain = np.convolve(floor, np.full(2 * r + 1, 1.0 / (2 * r + 1)), mode="valid")  # N
    return np.clip(x * gain.astype(np.float32), -ceiling, ceiling)


class Leveller:
    """Brings one voice's chunks to `target_dbfs` of speech; safe to call from several threads."""

    def __init__(self, target_dbfs: float) -> None:
        self.target = 10 ** (target_dbfs / 20)
        self._lock = threading.Lock()
        self._power = 0.0  # sum of the speech windows' power so far
        self._windows = 0

    def __call__(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        power, windows = speech_power(samples, sample_rate)
        with self._lock:
            self._power += power * windows
            self._windows += windows
            level = (self._power / self._windows) ** 0.5 if self._windows else 0.0
        if level <= 0.0:
            return np.asarray(samples, np.float32)
        bound = 10 ** (MAX_GAIN_DB / 20)
        gain = min(bound, max(1 / bound, self.target / level))
        return limit(np.asarray(samples, np.float32) * np.float32(gain), sample_rate)


__all__ = ["CEILING", "Leveller", "limit"]
