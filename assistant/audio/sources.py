"""Where heard audio comes from: files (optionally paced like a live microphone), scripts, a microphone.

Every source yields AudioFrames of one fixed size, 16 kHz mono float32, converted exactly once (on
decoding, or in the microphone's consumer thread). A source is iterated once; close() from any
thread ends the iteration at the next frame boundary (a paced wait is interrupted at once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.clock import Clock, default_clock
from assistant.audio.decode import SAMPLE_RATE, decode_file
from assistant.errors import SoriError

FRAME_MS = 20


class AudioInputUnavailable(SoriError):
    """No microphone, or it is busy or went away; the assistant can go on in text."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarrays with == is not a bool
class AudioFrame:
    """One frame of heard audio: 16 kHz mono float32, first sample at t_start on the pipeline clock."""

    samples: np.ndarray
    t_start: float
    index: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def t_end(self) -> float:
        return self.t_start + self.duration_s


def frame_samples(frame_ms: int) -> int:
    """Samples per frame at 16 kHz; frame_ms must give a whole number of samples."""
    if not 1 <= frame_ms <= 1000 or (SAMPLE_RATE * frame_ms) % 1000:
        raise ValueError(f"frame_ms={frame_ms}: use a whole number of milliseconds from 1 to 1000")
    return SAMPLE_RATE * frame_ms // 1000


def speech_bounds(samples: np.ndarray, threshold_dbfs: float = -45.0) -> tuple[float, float] | None:
    """(start_s, end_s) of the part of a clip louder than threshold_dbfs in 10 ms windows, or None.

    A plain energy measure, good for clean recordings (test files, TTS output); not a VAD.
    """
    win = SAMPLE_RATE // 100
    n = len(samples) // win
    if n == 0:
        return None
    power = np.mean(np.square(samples[: n * win].astype(np.float64).reshape(n, win)), axis=1)
    loud = np.nonzero(power > 10 ** (threshold_dbfs / 10))[0]
    if loud.size == 0:
        return None
    return loud[0] * win / SAMPLE_RATE, (loud[-1] + 1) * win / SAMPLE_RATE


def speech_power(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[float, int]:
    """The mean power of the 10 ms windows within 40 dB of the loudest (a level of speech with its pauses
    left out), and how many windows that is; (0.0, 0) for silence. A plain energy measure, as above."""
    win = max(1, sample_rate // 100)
    n = len(samples) // win
    if n == 0:
        return 0.0, 0
    power = np.mean(np.square(samples[: n * win].astype(np.float64).reshape(n, win)), axis=1)
    loud = power[power > power.max() * 1e-4]
    if loud.size == 0 or loud.max() <= 1e-12:
        return 0.0, 0
    return float(np.mean(loud)), int(loud.size)


class _TimelineSource:
    """Frames cut from a timeline that starts at t0 (the clock at the first frame request).

    Frame i covers [t0 + i*frame_s, t0 + (i+1)*frame_s). Paced (realtime) frames are handed out when
    their last sample is due, as a microphone would; unpaced ones at once, with the same timestamps.
    """

    def __init__(self, *, clock: Clock | None, frame_ms: int, realtime: bool) -> None:
        self.clock = default_clock(clock)
        self.frame_ms = frame_ms
        self.frame_samples = frame_samples(frame_ms)
        self.realtime = realtime
        self.t0: float | None = None
        self._closed = threading.Event()
        self._iterated = False

    def _render(self, start: int, count: int) -> np.ndarray | None:
        """Samples [start, start+count) of the timeline, zero-padded; None once it has ended."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[AudioFrame]:
        if self._iterated:
            raise RuntimeError(f"{type(self).__name__} can be iterated only once")
        self._iterated = True
        return self._frames()

    def _frames(self) -> Iterator[AudioFrame]:
        self.t0 = self.clock.now()
        frame_s = self.frame_samples / SAMPLE_RATE
        index = 0
        while not self._closed.is_set():
            t_start = self.t0 + index * frame_s
            # Wait before rendering, so audio mixed in meanwhile (add_echo) is in the frame.
            if self.realtime and not self.clock.wait_until(t_start + frame_s, self._closed):
                return
            block = self._render(index * self.frame_samples, self.frame_samples)
            if block is None:
                return
            yield AudioFrame(block, t_start, index)
            index += 1

    def close(self) -> None:
        self._closed.set()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _slice_padded(audio: np.ndarray, start: int, count: int) -> np.ndarray:
    block = audio[start : start + count]
    if len(block) < count:
        block = np.concatenate([block, np.zeros(count - len(block), np.float32)])
    return block


class FileSource(_TimelineSource):
    """A file heard as if through a microphone, with optional silence before and after it."""

    def __init__(
        self,
        path: str | Path,
        *,
        realtime: bool = True,
        clock: Clock | None = None,
        frame_ms: int = FRAME_MS,
        lead_silence_s: float = 0.0,
        tail_silence_s: float = 0.0,
    ) -> None:
        super().__init__(clock=clock, frame_ms=frame_ms, realtime=realtime)
        self.path = Path(path)
        audio = decode_file(self.path, SAMPLE_RATE)  # the one conversion to 16 kHz mono
        lead = np.zeros(round(lead_silence_s * SAMPLE_RATE), np.float32)
        tail = np.zeros(round(tail_silence_s * SAMPLE_RATE), np.float32)
        self.audio = np.concatenate([lead, audio, tail])
        self.duration_s = len(self.audio) / SAMPLE_RATE

    def _render(self, start: int, count: int) -> np.ndarray | None:
        if start >= len(self.audio):
            return None
        return _slice_padded(self.audio, start, count)


@dataclass(frozen=True)
class ScriptItem:
    """One file in a script: after `gap_before_s` of silence following the previous item, or at `at_s`
    seconds from the source's start (mixed over whatever is playing then)."""

    path: str | Path
    gap_before_s: float = 0.0
    at_s: float | None = None
    gain: float = 1.0


@dataclass
class _Clip:
    start: int  # sample offset on the timeline (scripted clips) ...
    samples: np.ndarray
    t_clock: float | None = None  # ... or a pipeline-clock time (echo), placed once t0 is known
    item: int | None = None


class ScriptedSource(_TimelineSource):
    """Plays a script of files on one timeline, mixing overlaps, plus echo added while it runs.

    speech_spans: (start, end) clock times of each scripted file, appended as each one finishes.
    voice_spans: the same for the audible speech inside each file (energy-based, see speech_bounds).
    tail_silence_s=math.inf keeps the source running (silent, or echo) until close().
    """

    def __init__(
        self,
        items: Sequence[ScriptItem],
        *,
        clock: Clock | None = None,
        frame_ms: int = FRAME_MS,
        realtime: bool = True,
        tail_silence_s: float = 0.0,
    ) -> None:
        super().__init__(clock=clock, frame_ms=frame_ms, realtime=realtime)
        self.items = list(items)
        self.speech_spans: list[tuple[float, float]] = []
        self.voice_spans: list[tuple[float, float]] = []
        self.item_offsets: list[tuple[float, float]] = []  # (start_s, end_s) from the source's start
        self._clips: list[_Clip] = []
        self._echo: list[_Clip] = []
        self._lock = threading.Lock()  # add_echo/cut_echo run on other threads
        cursor = 0
        for i, item in enumerate(self.items):
            audio = decode_file(item.path, SAMPLE_RATE) * np.float32(item.gain)
            if item.at_s is not None:
                start = round(item.at_s * SAMPLE_RATE)
            else:
                start = cursor + round(item.gap_before_s * SAMPLE_RATE)
            if start < 0:
                raise ValueError(f"script item {i} ({item.path}) would start before the source")
            self._clips.append(_Clip(start, audio, item=i))
            self.item_offsets.append((start / SAMPLE_RATE, (start + len(audio)) / SAMPLE_RATE))
            cursor = start + len(audio)
        script_end = max((c.start + len(c.samples) for c in self._clips), default=0)
        self._end = script_end + tail_silence_s * SAMPLE_RATE  # float: may be math.inf
        self._spans_left = sorted(self._clips, key=lambda c: c.start + len(c.samples))

    def add_echo(self, samples: np.ndarray, t_start: float, gain: float = 1.0, sample_rate: int = 16_000):
        """Mix `samples` in from clock time t_start on (the part already heard is lost)."""
        audio = np.asarray(samples, np.float32)
        if sample_rate != SAMPLE_RATE:
            import soxr

            audio = soxr.resample(audio, sample_rate, SAMPLE_RATE).astype(np.float32)
        with self._lock:
            self._echo.append(_Clip(0, audio * np.float32(gain), t_clock=t_start))

    def cut_echo(self, t: float) -> None:
        """Silence all echo from clock time t on (the assistant's playback was stopped at t)."""
        with self._lock:
            for clip in self._echo:
                keep = max(0, round((t - clip.t_clock) * SAMPLE_RATE))
                clip.samples = clip.samples[:keep]

    def _render(self, start: int, count: int) -> np.ndarray | None:
        with self._lock:
            for clip in self._echo:  # place echo on the timeline now that t0 is known
                clip.start = round((clip.t_clock - self.t0) * SAMPLE_RATE)
            self._echo = [c for c in self._echo if c.start + len(c.samples) > start]
            echo_end = max((c.start + len(c.samples) for c in self._echo), default=0)
            if start >= max(self._end, echo_end):
                return None
            out = np.zeros(count, np.float32)
            for clip in self._clips + self._echo:
                lo, hi = max(start, clip.start), min(start + count, clip.start + len(clip.samples))
                if lo < hi:
                    out[lo - start : hi - start] += clip.samples[lo - clip.start : hi - clip.start]
        self._record_finished(start + count)
        return np.clip(out, -1.0, 1.0)

    def _record_finished(self, upto: int) -> None:
        while self._spans_left and self._spans_left[0].start + len(self._spans_left[0].samples) <= upto:
            clip = self._spans_left.pop(0)
            t_on = self.t0 + clip.start / SAMPLE_RATE
            self.speech_spans.append((t_on, t_on + len(clip.samples) / SAMPLE_RATE))
            gain = abs(self.items[clip.item].gain) or 1.0
            bounds = speech_bounds(clip.samples / np.float32(gain))  # judge loudness before the gain
            if bounds is not None:
                self.voice_spans.append((t_on + bounds[0], t_on + bounds[1]))


__all__ = [
    "AudioFrame",
    "AudioInputUnavailable",
    "FileSource",
    "ScriptItem",
    "ScriptedSource",
    "speech_bounds",
    "speech_power",
]
