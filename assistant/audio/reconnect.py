"""A microphone that may come and go: missing, unplugged or busy devices are retried until they are back.

While there is no device the source yields silence in real time, so the voice loop keeps running (typed
turns, timers, answers being spoken) and picks the user's voice up again as soon as a device opens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from assistant.audio.clock import Clock, default_clock
from assistant.audio.sources import FRAME_MS, AudioFrame, AudioInputUnavailable, frame_samples

RETRY_S = 2.0  # how often a missing device is looked for again


class ReconnectingSource:
    """Frames from `open_source()` (a MicrophoneSource); on AudioInputUnavailable, silence and retries.

    `on_status(available, message)` is called when the device is lost (with the one-line reason) and
    when it is back (with its name), once per change.
    """

    def __init__(
        self,
        open_source: Callable[[], Iterable[AudioFrame]],
        on_status: Callable[[bool, str], None] | None = None,
        *,
        clock: Clock | None = None,
        frame_ms: int = FRAME_MS,
        retry_s: float = RETRY_S,
    ) -> None:
        self.open_source = open_source
        self.on_status = on_status
        self.clock = default_clock(clock)
        self.frame_ms = frame_ms
        self.retry_s = retry_s
        self.available: bool | None = None  # unknown until the first try
        self._closed = threading.Event()
        self._current: Iterable[AudioFrame] | None = None
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[AudioFrame]:
        index = 0
        t = self.clock.now()
        silence = np.zeros(frame_samples(self.frame_ms), np.float32)
        step = self.frame_ms / 1000
        next_try = t
        while not self._closed.is_set():
            if self.clock.now() >= next_try:
                source = self._open()
                if source is not None:
                    try:
                        for frame in source:
                            # Renumbered and re-timed from the device's own clock: one continuous stream.
                            yield AudioFrame(frame.samples, frame.t_start, index)
                            index += 1
                            t = frame.t_start + frame.duration_s
                        if self._closed.is_set():
                            return
                        self._report(False, "the microphone stopped delivering audio")
                    except AudioInputUnavailable as exc:
                        self._report(False, str(exc))
                    finally:
                        self._release(source)
                    t = max(t, self.clock.now())
                next_try = self.clock.now() + self.retry_s
            # No device: silence at the device's pace until the next try.
            if not self.clock.wait_until(t + step, self._closed):
                return
            yield AudioFrame(silence.copy(), t, index)
            index += 1
            t += step

    def _open(self) -> Iterable[AudioFrame] | None:
        try:
            source = self.open_source()
        except AudioInputUnavailable as exc:
            self._report(False, str(exc))
            return None
        with self._lock:
            if self._closed.is_set():  # closed while opening
                self._close_one(source)
                return None
            self._current = source
        self._report(True, str(getattr(source, "name", "microphone")))
        return source

    def _release(self, source: Iterable[AudioFrame]) -> None:
        with self._lock:
            if self._current is source:
                self._current = None
        self._close_one(source)

    @staticmethod
    def _close_one(source: Iterable[AudioFrame]) -> None:
        close = getattr(source, "close", None)
        if close is not None:
            close()

    def _report(self, available: bool, message: str) -> None:
        if available == self.available:
            return  # once per change: a device missing for an hour is not reported every 2 s
        self.available = available
        if self.on_status is not None:
            self.on_status(available, message)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            current, self._current = self._current, None
        if current is not None:
            self._close_one(current)
