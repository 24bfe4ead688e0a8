"""Where spoken audio goes: a WAV file, the speaker, or nowhere."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.audio.clock import Clock, default_clock
from assistant.audio.wav import WavWriter, check_output
from assistant.errors import AudioOutputError

SLICE_S = 0.02  # paced playback advances in slices this long, so stop() lands within one slice


def resample_to(samples: np.ndarray, rate: int, target: int) -> tuple[np.ndarray, int]:
    """Audio at another rate (a voice switched mid-file); unchanged when the rates match."""
    if rate == target:
        return samples, rate
    import soxr

    return soxr.resample(np.asarray(samples, np.float32), rate, target).astype(np.float32), target


class AudioSink(Protocol):
    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        """Play (or store) a chunk; returns when it is handed over."""
        ...

    def stop(self) -> None:
        """Drop whatever is still queued or playing."""
        ...

    def close(self) -> None: ...


def pace_playback(
    clock: Clock,
    total: int,
    sample_rate: int,
    stopped: threading.Event,
    on_played=None,
    t_start: float | None = None,
) -> int:
    """Take as long as `total` samples take to play (from t_start, default now); return how many played.

    Waits on `stopped` in slices of at most SLICE_S, so a stop() from another thread ends it at once;
    on_played(upto) is called with the running count of samples whose play time has passed.
    """
    t0 = clock.now() if t_start is None else t_start
    done = 0
    while True:
        played = min(total, int((clock.now() - t0) * sample_rate))
        if played > done:
            done = played
            if on_played is not None:
                on_played(done)
        if done >= total:
            return done
        if stopped.wait(min(SLICE_S, (total - done) / sample_rate)):
            played = min(total, int((clock.now() - t0) * sample_rate))
            if played > done and on_played is not None:
                on_played(played)
            return max(done, played)


class NullSink:
    """Discards audio; with realtime=True it still takes the audio's duration (stop() cuts it short)."""

    def __init__(self, clock: Clock | None = None, realtime: bool = False) -> None:
        self.clock = default_clock(clock)
        self.realtime = realtime
        self._stopped = threading.Event()

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        if self.realtime:
            self._stopped.clear()
            pace_playback(self.clock, len(samples), sample_rate, self._stopped)

    def stop(self) -> None:
        self._stopped.set()

    def close(self) -> None:
        self.stop()


class WavFileSink:
    """Writes everything played into one WAV file (created on the first chunk)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_output(self.path)  # a folder or a missing folder is an error now, before any work
        self._writer: WavWriter | None = None
        self.seconds = 0.0

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        if self._writer is None:
            self._writer = WavWriter(self.path, sample_rate)
        elif self._writer.sample_rate != sample_rate:
            # Another voice from the next sentence on: the file keeps its first rate.
            samples, sample_rate = resample_to(samples, sample_rate, self._writer.sample_rate)
        self._writer.write(samples)
        self.seconds += len(samples) / sample_rate

    def stop(self) -> None:
        pass

    def close(self) -> None:
        """Put the finished WAV in place."""
        if self._writer is not None:
            self._writer.close()

    def abort(self) -> None:
        """Drop the audio written so far: an interrupted answer leaves the target as it was."""
        if self._writer is not None:
            self._writer.abort()


class SpeakerSink:
    """Plays through sounddevice; stop() interrupts the chunk being played."""

    def __init__(self, device: str | int | None = None) -> None:
        try:
            import sounddevice as sd

            sd.query_devices(device if device not in ("", None) else None, kind="output")
        except Exception as exc:  # PortAudio missing, no device, or a bad name
            raise AudioOutputError(
                f"no audio output device ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                "write the audio to a file with -o FILE.wav, or choose a device in the config"
            ) from None
        self._sd = sd
        self.device = device if device not in ("", None) else None
        self._stopped = threading.Event()
        self.latency_s = 0.0  # play() to sound, as the device reports it (the echo canceller's delay hint)

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        self._stopped.clear()
        try:
            # Low latency keeps little audio buffered in the device, so abort() silences it quickly.
            self._sd.play(samples, sample_rate, device=self.device, latency="low")
            with contextlib.suppress(Exception):  # a backend that does not say: no hint
                self.latency_s = float(self._sd.get_stream().latency)
            # Wait in short steps so stop() takes effect within ~20 ms.
            while self._sd.get_stream().active and not self._stopped.wait(SLICE_S):
                pass
            if self._stopped.is_set():  # a stop() that raced with the start of this chunk
                self._abort()
        except self._sd.PortAudioError as exc:
            raise AudioOutputError(f"audio output failed ({exc}); check the output device") from None

    def stop(self) -> None:
        self._stopped.set()
        self._abort()

    def _abort(self) -> None:
        # abort() drops the audio already buffered in the device; sd.stop() would let it drain first
        # (up to the output latency, often over 50 ms).
        with contextlib.suppress(RuntimeError):  # RuntimeError: nothing has been played yet
            self._sd.get_stream().abort(ignore_errors=True)

    def close(self) -> None:
        self.stop()
        self._sd.stop()  # also closes the last stream


def make_sink(assistant, audio_out: str | Path | None) -> AudioSink:
    """A WAV file sink when a path is given, else the configured speaker."""
    if audio_out:
        return WavFileSink(audio_out)
    return SpeakerSink(assistant.settings.audio.output_device)
