"""Piper VITS voices on onnxruntime (piper-tts does phonemes with its bundled espeak-ng)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

from assistant.errors import EngineError
from assistant.models import ResolvedModel
from assistant.text.normalize import normalize_for_speech
from assistant.tts import AudioChunk


class PiperTTS:
    """Loaded on first use; one lock, so one worker thread owns inference at a time."""

    def __init__(self, model: ResolvedModel, *, speaking_rate: float = 1.0) -> None:
        self.model = model
        self.name = model.name
        self.speaking_rate = speaking_rate
        self._voice = None
        self._lock = threading.Lock()
        config = model.path.with_name(model.path.name + ".json")
        try:
            self.sample_rate = int(json.loads(config.read_text("utf-8"))["audio"]["sample_rate"])
        except (OSError, ValueError, KeyError, TypeError):
            raise EngineError(f"voice {self.name}: {config} is missing or not a Piper voice config") from None

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self):
        if self._voice is None:
            from piper import PiperVoice

            try:
                self._voice = PiperVoice.load(self.model.path)
            except Exception as exc:  # onnxruntime raises its own exception types
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise EngineError(
                    f"voice {self.name} failed to load: {first}; check {self.model.path}"
                ) from None
        return self._voice

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        from piper import SynthesisConfig

        spoken = normalize_for_speech(text)
        if not spoken.strip():
            return
        syn = SynthesisConfig(length_scale=1.0 / self.speaking_rate)
        with self._lock:
            voice = self._load_locked()
            # piper yields one chunk per sentence; hand each over as soon as it exists.
            for chunk in voice.synthesize(spoken, syn_config=syn):
                yield AudioChunk(chunk.audio_float_array, chunk.sample_rate, spoken)
