"""Where spoken audio goes: a WAV file, the speaker, or nowhere."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.audio.wav import WavWriter
from assistant.errors import SoriError


class AudioOutputError(SoriError):
    pass


class AudioSink(Protocol):
    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        """Play (or store) a chunk; returns when it is handed over."""
        ...

    def stop(self) -> None:
        """Drop whatever is still queued or playing."""
        ...

    def close(self) -> None: ...


class NullSink:
    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        pass

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


class WavFileSink:
    """Writes everything played into one WAV file (created on the first chunk)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise AudioOutputError(f"{self.path}: folder {self.path.parent} does not exist")
        self._writer: WavWriter | None = None
        self.seconds = 0.0

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        if self._writer is None:
            self._writer = WavWriter(self.path, sample_rate)
        elif self._writer.sample_rate != sample_rate:
            raise AudioOutputError(
                f"{self.path}: chunks with different sample rates cannot share one WAV file"
            )
        self._writer.write(samples)
        self.seconds += len(samples) / sample_rate

    def stop(self) -> None:
        pass

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


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

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        self._stopped.clear()
        try:
            self._sd.play(samples, sample_rate, device=self.device)
            # Wait in short steps so stop() takes effect within ~20 ms.
            while self._sd.get_stream().active and not self._stopped.wait(0.02):
                pass
        except self._sd.PortAudioError as exc:
            raise AudioOutputError(f"audio output failed ({exc}); check the output device") from None

    def stop(self) -> None:
        self._stopped.set()
        self._sd.stop()

    def close(self) -> None:
        self.stop()


def make_sink(assistant, audio_out: str | Path | None) -> AudioSink:
    """A WAV file sink when a path is given, else the configured speaker."""
    if audio_out:
        return WavFileSink(audio_out)
    return SpeakerSink(assistant.settings.audio.output_device)
