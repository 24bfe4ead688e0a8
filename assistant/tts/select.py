"""Which engine speaks a `[tts] voice` value, the voices a user can choose, and switching between them.

A value is "" (the profile's voice), a catalog id (hibari or Piper), a Piper .onnx file, a sherpa-onnx
model folder (Pocket TTS, Kokoro, Matcha, VITS), or "pocket:NAME" (a voice made with `sori voice clone`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant import models, paths
from assistant.config import Settings
from assistant.errors import ModelError, SoriError
from assistant.tts import AudioChunk, TextToSpeech
from assistant.tts.loudness import Leveller

POCKET_PREFIX = "pocket:"


def make_engine(value: str, settings: Settings) -> TextToSpeech:
    """Build (not load) the engine for a voice value; ModelError with the fix when it cannot be used."""
    rate = settings.tts.speaking_rate
    if value.startswith(POCKET_PREFIX):
        return _pocket(value[len(POCKET_PREFIX) :], settings)
    if value and value not in models.catalog() and Path(value).expanduser().is_dir():
        from assistant.tts.sherpa import SherpaTTS, detect

        return SherpaTTS(detect(value), speaking_rate=rate)
    model = models.resolve("tts", value, settings.profile)
    if model.manifest is not None and model.manifest.format == "hibari-onnx":
        from assistant.tts.hibari import HibariTTS

        return HibariTTS(model, speaking_rate=rate)
    from assistant.tts.piper import PiperTTS

    return PiperTTS(model, speaking_rate=rate)


def _pocket(name: str, settings: Settings) -> TextToSpeech:
    from assistant.tts.cloned import cloned_voice, missing_pocket_message, pocket_model_dir
    from assistant.tts.sherpa import SherpaTTS, detect

    voice = cloned_voice(name)  # first: a typo in the name is the likelier mistake
    folder = pocket_model_dir(settings.tts.pocket_model)
    if folder is None or not folder.is_dir():
        raise ModelError(missing_pocket_message(settings.tts.pocket_model))
    model = detect(folder)
    if model.kind != "pocket":
        raise ModelError(f"{folder} is a {model.kind} model, not Pocket TTS; fix [tts] pocket_model")
    return SherpaTTS(
        model, name=f"{POCKET_PREFIX}{name}", reference=voice.path, speaking_rate=settings.tts.speaking_rate
    )


class VoiceSwitch:
    """The assistant's voice. Each sentence is spoken by the engine current when it starts, so switch()
    (a voice chosen in the settings) takes effect on the next sentence, even in the middle of an answer."""

    def __init__(self, engine: TextToSpeech, loudness_dbfs: float = 0.0) -> None:
        self.loudness_dbfs = loudness_dbfs
        self.switch(engine)

    @property
    def name(self) -> str:
        return self.engine.name

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    @property
    def speaking_rate(self) -> float:
        return float(getattr(self.engine, "speaking_rate", 1.0))

    @speaking_rate.setter
    def speaking_rate(self, value: float) -> None:
        if hasattr(self.engine, "speaking_rate"):
            self.engine.speaking_rate = value  # type: ignore[attr-defined]

    def load(self) -> None:
        load = getattr(self.engine, "load", None)
        if load is not None:
            load()

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        level = self._level
        chunks = iter(self.engine.synthesize(text))
        try:
            for chunk in chunks:
                if level is None:
                    yield chunk
                else:
                    yield AudioChunk(level(chunk.samples, chunk.sample_rate), chunk.sample_rate, chunk.text)
        finally:  # closed with this one (a stop, a barge-in): the engine stops generating at once
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def switch(self, engine: TextToSpeech) -> None:
        self.engine = engine
        # Each voice is measured anew (loudness.py); 0 dBFS: every voice as it comes.
        self._level = Leveller(self.loudness_dbfs) if self.loudness_dbfs < 0 else None

    def __getattr__(self, name: str):  # model, seed, ...: the current engine's
        return getattr(self.engine, name)


@dataclass(frozen=True)
class VoiceChoice:
    value: str  # what goes into [tts] voice
    label: str
    usable: bool
    detail: str  # why not usable, or where it is
    engine: str = ""  # hibari, piper, sherpa-onnx pocket/kokoro/matcha/vits


def available_voices(settings: Settings) -> list[VoiceChoice]:
    """Catalog voices, cloned voices and sherpa-onnx folders in the models folder, each with whether it
    can speak now (installed, its runtime and model present)."""
    from assistant.tts.cloned import cloned_voices, missing_pocket_message, pocket_model_dir

    out: list[VoiceChoice] = []
    for m in models.catalog().values():
        if m.role == "tts":
            ok = models.is_installed(m.id)
            detail = str(models.model_dir(m.id)) if ok else f"not installed; fix: sori models install {m.id}"
            engine = {"hibari-onnx": "hibari", "piper-onnx": "piper"}.get(m.format, m.format)
            out.append(VoiceChoice(m.id, f"{m.id} — {m.description}", ok, detail, engine))
    pocket = pocket_model_dir(settings.tts.pocket_model)
    pocket_ok = pocket is not None and (pocket / "vocab.json").is_file()
    for v in cloned_voices():
        detail = str(v.path) if pocket_ok else missing_pocket_message(settings.tts.pocket_model)
        label = f"{POCKET_PREFIX}{v.name} — cloned voice, Pocket TTS ({v.speech_s:.0f} s reference)"
        out.append(VoiceChoice(POCKET_PREFIX + v.name, label, pocket_ok, detail, "sherpa-onnx pocket"))
    root = paths.models_dir()
    folders = (
        sorted(p for p in root.glob("*") if p.is_dir() and p.name not in models.catalog())
        if root.is_dir()
        else []
    )
    for folder in folders:
        from assistant.tts.sherpa import detect

        try:
            kind = detect(folder).kind
        except SoriError:
            continue
        label = f"{folder.name} — sherpa-onnx {kind} model"
        out.append(VoiceChoice(str(folder), label, True, str(folder), f"sherpa-onnx {kind}"))
    return out
