"""A sink that plays into a WAV file like a speaker would, recording when each chunk was heard.

For tests and measurements without a sound card: with realtime=True a 2 s chunk takes 2 s, stop() from
another thread cuts it within one 20 ms slice, and only the part that was "played" reaches the file.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.clock import Clock, default_clock
from assistant.audio.sinks import pace_playback, resample_to
from assistant.audio.wav import WavWriter, check_output

_RECENT_S = 30.0  # played audio kept in memory for playback_rms()


@dataclass(frozen=True)
class PlayedChunk:
    """One play() call: when it sounded on the pipeline clock and how much of it did."""

    t_start: float
    t_end: float
    samples_played: int
    samples_total: int
    sample_rate: int

    @property
    def stopped(self) -> bool:
        return self.samples_played < self.samples_total


@dataclass
class _Recent:
    t_start: float
    samples: np.ndarray
    sample_rate: int
    played: int  # while playing: the whole chunk (it is about to sound); after a stop: what did


class TimestampedWavSink:
    """Writes what is played to `path` (a mono WAV, at the first chunk's rate) and when it was played.

    realtime=False writes each chunk at once and gives it nominal times, as if queued on a speaker
    (starting when the previous one ends); nothing is in flight then, so stop() cuts nothing.
    on_play(samples, sample_rate, t_start) is called as each chunk starts and on_stop(t) when playback
    is cut at t: hooks to feed the played audio back as microphone echo (ScriptedSource.add_echo/cut_echo).
    """

    def __init__(
        self,
        path: str | Path,
        clock: Clock | None = None,
        realtime: bool = True,
        *,
        on_play: Callable[[np.ndarray, int, float], None] | None = None,
        on_stop: Callable[[float], None] | None = None,
    ) -> None:
        self.path = Path(path)
        check_output(self.path)  # a folder or a missing folder is an error now, before any work
        self.clock = default_clock(clock)
        self.realtime = realtime
        self.on_play = on_play
        self.on_stop = on_stop
        self.chunks: list[PlayedChunk] = []
        self.played_until = float("-inf")  # clock time the last handed-over audio ends (or was cut)
        self._playing = False
        self._writer: WavWriter | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()  # guards _recent and played_until against readers on other threads
        self._recent: deque[_Recent] = deque()
        self._play_lock = threading.Lock()  # close() waits for a play() in another thread to finish

    @property
    def is_playing(self) -> bool:
        if self.realtime:
            return self._playing
        return self.clock.now() < self.played_until

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        with self._play_lock:
            self._play(np.asarray(samples, np.float32), sample_rate)

    def _play(self, samples: np.ndarray, sample_rate: int) -> None:
        if self._writer is None:
            self._writer = WavWriter(self.path, sample_rate)
        elif self._writer.sample_rate != sample_rate:
            # Another voice from the next sentence on: the file keeps its first rate.
            samples, sample_rate = resample_to(samples, sample_rate, self._writer.sample_rate)
        self._stopped.clear()
        now = self.clock.now()
        t_start = now if self.realtime else max(now, self.played_until)
        total = len(samples)
        entry = _Recent(t_start, samples, sample_rate, total)
        with self._lock:
            self._recent.append(entry)
            while self._recent and self._recent[0].t_start < t_start - _RECENT_S:
                self._recent.popleft()
            self.played_until = t_start + total / sample_rate
        if self.on_play is not None:
            self.on_play(samples, sample_rate, t_start)
        if not self.realtime:
            self._writer.write(samples)
            self.chunks.append(PlayedChunk(t_start, self.played_until, total, total, sample_rate))
            return
        written = 0

        def write_upto(upto: int) -> None:  # the file grows as the audio "sounds"
            nonlocal written
            self._writer.write(samples[written:upto])
            written = upto

        self._playing = True
        try:
            played = pace_playback(self.clock, total, sample_rate, self._stopped, write_upto, t_start)
        finally:
            self._playing = False
        t_end = t_start + played / sample_rate
        if played < total:
            with self._lock:
                entry.played = played
                self.played_until = t_end
            if self.on_stop is not None:
                self.on_stop(t_end)
        self.chunks.append(PlayedChunk(t_start, t_end, played, total, sample_rate))

    def stop(self) -> None:
        """Cut the chunk being played (within one 20 ms slice); the rest of it is dropped."""
        self._stopped.set()
        if not self.realtime:
            with self._lock:
                self.played_until = min(self.played_until, self.clock.now())

    def playback_rms(self, t0: float, t1: float) -> float:
        """RMS of what was (or is about to be) played between clock times t0 and t1; silence counts.

        The reference level for an echo gate: the microphone hears this, attenuated.
        """
        if t1 <= t0:
            return 0.0
        energy = 0.0
        with self._lock:
            recent = list(self._recent)
        for r in recent:
            lo = max(0, int((t0 - r.t_start) * r.sample_rate))
            hi = min(r.played, int(np.ceil((t1 - r.t_start) * r.sample_rate)))
            if lo < hi:
                energy += float(np.sum(np.square(r.samples[lo:hi], dtype=np.float64))) / r.sample_rate
        return float(np.sqrt(energy / (t1 - t0)))

    @property
    def seconds(self) -> float:
        return sum(c.samples_played / c.sample_rate for c in self.chunks)

    def close(self) -> None:
        self.stop()
        with self._play_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
