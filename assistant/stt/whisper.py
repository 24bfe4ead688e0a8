"""faster-whisper (CTranslate2): int8 on CPU, float16 on CUDA."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from assistant.audio.decode import SAMPLE_RATE, check_samples, decode_file
from assistant.errors import EngineError, InputError
from assistant.models import ResolvedModel
from assistant.stt import Segment, Transcription

# Below this peak level the input is digital silence; Whisper tends to invent words for it.
_SILENCE_PEAK = 1e-3


def cuda_available() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:  # a broken CUDA runtime must not stop the CPU path
        return False


class WhisperSTT:
    """Loaded on first use; one lock, so one worker thread owns inference at a time."""

    def __init__(
        self, model: ResolvedModel, *, device: str = "auto", beam_size: int = 1, cpu_threads: int = 0
    ):
        self.model = model
        self.name = model.name
        self.device = ("cuda" if cuda_available() else "cpu") if device == "auto" else device
        self.compute_type = str(
            model.setting(f"compute_type_{self.device}", "float16" if self.device == "cuda" else "int8")
        )
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads
        self._whisper = None
        self._lock = threading.Lock()

    @property
    def multilingual(self) -> bool:
        if self._whisper is not None:
            return bool(self._whisper.model.is_multilingual)
        if self.model.manifest is not None:
            return bool(self.model.setting("multilingual", True))
        return not self.model.path.name.endswith(".en")

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self):
        if self._whisper is None:
            from faster_whisper import WhisperModel

            try:
                self._whisper = WhisperModel(
                    str(self.model.path),
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise EngineError(
                    f"speech model {self.name} failed to load from {self.model.path}: {first}; "
                    "check the model folder (sori models verify)"
                ) from None
        return self._whisper

    def transcribe(
        self, audio: np.ndarray | str | Path, *, language: str | None = None, translate: bool = False
    ) -> Transcription:
        samples = decode_file(audio) if isinstance(audio, str | Path) else check_samples(audio)
        duration = len(samples) / SAMPLE_RATE
        if not self.multilingual and (translate or (language and language != "en")):
            raise InputError(
                f"speech model {self.name} is English-only; for other languages or --translate use a "
                "multilingual model (--profile default)"
            )
        if float(np.max(np.abs(samples))) < _SILENCE_PEAK:
            return Transcription("", language or "en", 0.0, duration, ())
        with self._lock:
            whisper = self._load_locked()
            segments, info = whisper.transcribe(
                samples,
                language=language or ("en" if not self.multilingual else None),
                task="translate" if translate else "transcribe",
                beam_size=self.beam_size,
                condition_on_previous_text=False,
            )
            # The generator is lazy: consume it here, inside the lock, on this thread.
            segs = tuple(Segment(s.start, s.end, s.text.strip()) for s in segments)
        text = " ".join(s.text for s in segs if s.text).strip()
        return Transcription(text, info.language, float(info.language_probability), duration, segs)
