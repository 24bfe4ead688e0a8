"""The simple echo canceller Sori used before WebRTC's (audio/frontend.py), kept as the baseline that
`sori bench echo` measures against: on simulated rooms it removes about 1 dB of a reverberant, delayed,
distorted echo (WebRTC's AEC3 about 40) and adds nothing after AEC3, so the voice loop no longer uses it.

A deliberately small canceller, not a full AEC: for each 16 kHz input frame it finds the delay (0 to
max_delay_ms) at which the recently played audio matches best, fits one gain by least squares and
subtracts that scaled copy. What is left is the user (if anyone is speaking) plus whatever the linear
model misses; frames whose residual is not clearly louder than the echo estimate are silenced.
"""

from __future__ import annotations

import threading

import numpy as np

from assistant.audio.decode import SAMPLE_RATE


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return samples.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(samples, rate, SAMPLE_RATE).astype(np.float32)


class EchoCanceller:
    def __init__(self, *, max_delay_ms: int = 300, margin: float = 2.0, history_s: float = 2.0) -> None:
        self.max_delay = SAMPLE_RATE * max_delay_ms // 1000
        self.margin = margin
        self._size = int(history_s * SAMPLE_RATE)
        self._ref = np.zeros(self._size, np.float32)
        self._ref_end_t = 0.0  # clock time just after the newest reference sample
        self._lock = threading.Lock()

    def played(self, samples_16k: np.ndarray, t_start: float) -> None:
        """Record audio the sink starts playing at clock time t_start (called by the playback thread)."""
        with self._lock:
            gap = round((t_start - self._ref_end_t) * SAMPLE_RATE)
            block = (
                samples_16k
                if gap <= 0
                else np.concatenate([np.zeros(min(gap, self._size), np.float32), samples_16k])
            )
            block = block[-self._size :]
            self._ref = np.concatenate([self._ref[len(block) :], block])
            self._ref_end_t = max(self._ref_end_t, t_start) + len(samples_16k) / SAMPLE_RATE

    def stopped(self, t: float) -> None:
        """Playback stopped at t: the reference after t was never played."""
        with self._lock:
            cut = round((self._ref_end_t - t) * SAMPLE_RATE)
            if cut > 0:
                self._ref[-min(cut, self._size) :] = 0.0

    def _reference(self, t_start: float, n: int) -> np.ndarray | None:
        """Reference samples covering [t_start - max_delay, t_start + n), or None if nothing was playing."""
        with self._lock:
            end = self._size - round((self._ref_end_t - t_start) * SAMPLE_RATE) + n
            start = end - n - self.max_delay
            if end <= 0 or start >= self._size:
                return None
            window = np.zeros(n + self.max_delay, np.float32)
            lo, hi = max(start, 0), min(end, self._size)
            window[lo - start : hi - start] = self._ref[lo:hi]
        return window if np.any(window) else None

    def process(self, frame: np.ndarray, t_start: float) -> np.ndarray:
        """Return the frame with Sori's own voice removed (or silenced where only echo remains)."""
        ref = self._reference(t_start, len(frame))
        if ref is None:
            return frame
        n = len(frame)
        # Correlate the frame with every delayed copy of the reference; the best one is the echo path.
        corr = np.correlate(ref, frame, mode="valid")[::-1]  # index = delay in samples
        energy = np.convolve(np.square(ref), np.ones(n, np.float32), mode="valid")[::-1]
        score = np.where(energy > 1e-9, np.square(corr) / np.maximum(energy, 1e-9), 0.0)
        delay = int(np.argmax(score))
        seg = ref[len(ref) - n - delay : len(ref) - delay]
        seg_energy = float(np.dot(seg, seg))
        if seg_energy < 1e-9:
            return frame
        gain = max(0.0, float(np.dot(seg, frame)) / seg_energy)
        echo = gain * seg
        residual = frame - echo
        # Only echo left (or barely more): treat as silence so it cannot start a turn.
        if (
            np.sqrt(np.mean(np.square(residual)))
            < self.margin * 0.1 * np.sqrt(np.mean(np.square(echo))) + 1e-4
        ):
            return np.zeros_like(frame)
        return residual.astype(np.float32)
