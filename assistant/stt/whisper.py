"""faster-whisper (CTranslate2): int8 on CPU, float16 on CUDA."""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.decode import SAMPLE_RATE, check_samples, decode_file
from assistant.errors import EngineError, InputError
from assistant.models import ResolvedModel
from assistant.stt import Segment, Transcription
from assistant.stt.short import transcribe_short

# Below this peak level the input is digital silence; Whisper tends to invent words for it.
_SILENCE_PEAK = 1e-3


def cuda_available() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:  # a broken CUDA runtime must not stop the CPU path
        return False


def default_cpu_threads() -> int:
    # OMP_NUM_THREADS where set, as CTranslate2 itself reads it; else its default (4) oversubscribes a
    # 2-core laptop: 2 threads were 10 % faster here.
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, min(4, os.cpu_count() or 1))


@functools.cache
def _one_encode_model() -> type:
    """faster-whisper's WhisperModel, encoding a short clip once instead of twice.

    With no language given, transcribe() encodes the 30 s window once to detect the language and again to
    decode it: on a 2-core CPU that second pass was 300 of the 720 ms a spoken question took with
    whisper-base. Here detection encodes the very window decoding will use (the features less the last
    frame, padded), and encode() hands the same output back when asked for the same window again.
    """
    from faster_whisper import WhisperModel
    from faster_whisper.audio import pad_or_trim

    class OneEncodeWhisper(WhisperModel):
        _last: tuple[bytes, Any] | None = None
        encodes = 0  # encoder passes run (tests count them)

        def encode(self, features: np.ndarray) -> Any:
            key = hashlib.blake2b(np.ascontiguousarray(features).tobytes(), digest_size=16).digest()
            key += repr(features.shape).encode()
            if self._last is not None and self._last[0] == key:
                return self._last[1]
            out = super().encode(features)
            self.encodes += 1
            self._last = (key, out)
            return out

        def detect_language(self, audio=None, features=None, *args: Any, **kwargs: Any):  # type: ignore[override]
            frames = self.feature_extractor.nb_max_frames
            if audio is not None or features is None or not 1 < features.shape[-1] <= frames + 1:
                return super().detect_language(audio, features, *args, **kwargs)
            # The window generate_segments() decodes first: content frames (all but the last), padded.
            encoded = self.encode(pad_or_trim(features[:, : features.shape[-1] - 1]))
            probs = [(token[2:-2], p) for token, p in self.model.detect_language(encoded)[0]]
            return probs[0][0], probs[0][1], probs

    return OneEncodeWhisper


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
        self.cpu_threads = cpu_threads or default_cpu_threads()
        self._whisper: Any = None
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
            try:
                self._whisper = _one_encode_model()(
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
        self,
        audio: np.ndarray | str | Path,
        *,
        language: str | None = None,
        translate: bool = False,
        likely_language: str | None = None,
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
            short = transcribe_short(
                whisper,
                samples,
                language=language,
                translate=translate,
                beam_size=self.beam_size,
                likely_language=likely_language,
            )
            if short is not None:
                text, lang, probability = short
                segs = (Segment(0.0, duration, text),) if text else ()
                return Transcription(text, lang, probability, duration, segs)
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
