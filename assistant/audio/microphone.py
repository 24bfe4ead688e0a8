"""The microphone as a source of AudioFrames (sounddevice/PortAudio), resampled with soxr.

The PortAudio callback runs on a real-time thread where any delay drops audio, so it only copies each
block (with its arrival time) into a queue; mixing down, resampling and framing happen in the thread that
iterates the source.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator

import numpy as np

from assistant.audio.clock import Clock, default_clock
from assistant.audio.decode import SAMPLE_RATE
from assistant.audio.sources import FRAME_MS, AudioFrame, AudioInputUnavailable, frame_samples

_HINT = "Sori continues in text"
_CLOSED = object()
_QUEUE_BLOCKS = 500  # ~10 s of 20 ms blocks: a consumer further behind than that loses audio
_SILENT_DEVICE_S = 2.0  # no blocks for this long from a running stream: the device went away
_REANCHOR_S = 0.1  # timestamps drifting further than this from arrival times are corrected


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class MicrophoneSource:
    """Frames from an input device at its native rate, converted to 16 kHz mono in the consumer."""

    def __init__(self, device: str | int | None = None, *, clock: Clock | None = None, frame_ms=FRAME_MS):
        self.clock = default_clock(clock)
        self.frame_ms = frame_ms
        self.frame_samples = frame_samples(frame_ms)
        self.device = device if device not in ("", None) else None
        self.overflows = 0  # blocks the device or the queue dropped
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_BLOCKS)
        self._closed = threading.Event()
        self._finished = threading.Event()  # PortAudio ended the stream on its own (unplugged)
        self._iterated = False
        try:
            import sounddevice as sd
        except OSError as exc:  # the PortAudio library itself is missing
            raise AudioInputUnavailable(f"no audio input ({_first_line(exc)}); {_HINT}") from None
        self._sd = sd
        try:
            info = sd.query_devices(self.device, kind="input")
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioInputUnavailable(f"no microphone found ({_first_line(exc)}); {_HINT}") from None
        if int(info.get("max_input_channels", 0)) < 1:
            raise AudioInputUnavailable(f"no microphone found ({info.get('name', self.device)}); {_HINT}")
        self.name = str(info.get("name", self.device))
        self.native_rate = int(round(float(info["default_samplerate"])))
        # Open now, so a busy device is reported before anyone starts listening; start on iteration.
        self._stream = self._open(min(int(info["max_input_channels"]), 2))

    def _open(self, max_channels: int):
        sd = self._sd
        last: Exception | None = None
        for channels in sorted({1, max_channels}):  # mono where the device allows it; else mix down
            try:
                return sd.InputStream(
                    device=self.device,
                    samplerate=self.native_rate,
                    channels=channels,
                    dtype="float32",
                    blocksize=self.native_rate * self.frame_ms // 1000,
                    latency="low",
                    callback=self._callback,
                    finished_callback=self._finished.set,
                )
            except (sd.PortAudioError, ValueError) as exc:
                last = exc
        raise AudioInputUnavailable(
            f"the microphone {self.name!r} cannot be opened, it may be busy ({_first_line(last)}); {_HINT}"
        )

    def _callback(self, indata, frames, time_info, status) -> None:
        try:
            self._queue.put_nowait((indata.copy(), self.clock.now(), bool(status)))
        except queue.Full:
            self.overflows += 1

    def __iter__(self) -> Iterator[AudioFrame]:
        if self._iterated:
            raise RuntimeError("MicrophoneSource can be iterated only once")
        self._iterated = True
        return self._frames()

    def _frames(self) -> Iterator[AudioFrame]:
        import soxr

        resampler = None
        if self.native_rate != SAMPLE_RATE:
            resampler = soxr.ResampleStream(self.native_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        try:
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise AudioInputUnavailable(
                f"the microphone {self.name!r} cannot be started ({_first_line(exc)}); {_HINT}"
            ) from None
        pending = np.zeros(0, np.float32)
        anchor: float | None = None  # clock time of output sample 0
        produced = 0  # 16 kHz samples converted so far
        index = 0
        try:
            while not self._closed.is_set():
                item = self._next_block()
                if item is _CLOSED:
                    return
                block, arrival, flagged = item
                self.overflows += flagged
                mono = block.mean(axis=1) if block.ndim == 2 else block
                mono = np.ascontiguousarray(mono, np.float32)
                # The block's last sample arrived at `arrival`: its first was captured len/rate earlier.
                t_block = arrival - len(mono) / self.native_rate
                out = resampler.resample_chunk(mono) if resampler is not None else mono
                if anchor is None:
                    anchor = t_block
                elif abs(anchor + produced / SAMPLE_RATE - t_block) > _REANCHOR_S:
                    anchor = t_block - produced / SAMPLE_RATE  # dropped blocks or clock drift
                produced += len(out)
                pending = np.concatenate([pending, out])
                while len(pending) >= self.frame_samples:
                    t_start = anchor + (produced - len(pending)) / SAMPLE_RATE
                    yield AudioFrame(pending[: self.frame_samples].copy(), t_start, index)
                    pending = pending[self.frame_samples :]
                    index += 1
        finally:
            self._shutdown()

    def _next_block(self):
        """The next queued block; raise AudioInputUnavailable if the device stopped delivering."""
        waited = 0.0
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closed.is_set():
                    return _CLOSED
                waited += 0.1
                if self._finished.is_set() or waited >= _SILENT_DEVICE_S:
                    raise AudioInputUnavailable(
                        f"the microphone {self.name!r} stopped delivering audio (unplugged?); {_HINT}"
                    ) from None

    def _shutdown(self) -> None:
        try:
            self._stream.abort()
            self._stream.close()
        except Exception:  # already closed, or the device is gone: nothing left to release
            pass

    def close(self) -> None:
        """Stop listening; an iteration in another thread ends promptly."""
        self._closed.set()
        with contextlib.suppress(queue.Full):  # the consumer checks _closed between blocks anyway
            self._queue.put_nowait(_CLOSED)
        if not self._iterated:
            self._shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
