"""hibari voices: a small ONNX acoustic model with its own phonemizer (no espeak), 24 kHz.

The package's engine runs the catalog's verified copy of the model; its lexicon, tagger and
out-of-vocabulary net stay inside the package. Sori's normalization runs first, then hibari's own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np

from assistant.errors import EngineError
from assistant.models import ResolvedModel
from assistant.text.normalize import normalize_for_speech
from assistant.tts import AudioChunk

SAMPLE_RATE = 24_000


class HibariTTS:
    """Loaded on first use; one lock, so one worker thread owns inference at a time."""

    def __init__(self, model: ResolvedModel, *, speaking_rate: float = 1.0, seed: int | None = 0) -> None:
        self.model = model
        self.name = model.name
        self.speaking_rate = speaking_rate
        self.sample_rate = int(model.setting("sample_rate", SAMPLE_RATE))
        # The model adds sampled noise; a fixed seed makes the same text sound the same every time.
        self.seed = seed
        self._engine = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self):
        if self._engine is None:
            try:
                from hibari import Hibari

                engine = Hibari(model=str(self.model.path))
                engine.g2p  # noqa: B018 - load the phonemizer now, not inside the first sentence
            except ImportError:
                raise EngineError(
                    f"voice {self.name} needs the hibari-tts package; fix: pip install 'hibari-tts==0.2.1'"
                ) from None
            except Exception as exc:  # onnxruntime raises its own exception types
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise EngineError(
                    f"voice {self.name} failed to load: {first}; check {self.model.path}"
                ) from None
            self._engine = engine
        return self._engine

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        spoken = normalize_for_speech(text)
        if not spoken.strip():
            return
        rng = np.random.default_rng(self.seed)
        with self._lock:
            engine = self._load_locked()
            # One chunk per sentence, each handed over as soon as it exists; a sentence too long for the
            # model is cut at clause punctuation by the phonemizer and still arrives as one chunk.
            for sentence in engine.split_sentences(spoken):
                parts = [
                    engine.from_ids(engine.ids(ps), self.speaking_rate, rng)
                    for ps in engine.phonemize(sentence)
                ]
                parts = [p for p in parts if len(p)]
                if parts:
                    samples = np.concatenate(parts).astype(np.float32, copy=False)
                    yield AudioChunk(samples, self.sample_rate, sentence)
