"""Voices in sherpa-onnx model folders: Pocket TTS (a codec LM that clones a voice from a reference
recording), Kokoro, Matcha and VITS (Piper exports included). The kind is read from the folder's files.

sherpa-onnx generates in C++ with the GIL released and calls back with each piece of audio (a sentence
for VITS/Kokoro/Matcha, a few codec frames for Pocket TTS); a helper thread runs it so that pieces are
yielded as they come, and returning 0 from the callback stops it within one piece.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from assistant.errors import EngineError, ModelError
from assistant.text.normalize import normalize_for_speech
from assistant.tts import AudioChunk

Kind = Literal["pocket", "kokoro", "matcha", "vits"]
POCKET_PARTS = ("lm_main", "lm_flow", "encoder", "decoder", "text_conditioner")
POCKET_RATE = 24_000  # the Mimi codec's rate
_END = object()
_ESPEAK_LOCK = threading.Lock()  # espeak-ng keeps global state
_espeak = None


def espeak_sentences(voice: str, text: str) -> list[list[int]]:
    """Phonemes per sentence as code points, from the espeak-ng inside piper-tts.

    sherpa-onnx 2.x no longer phonemizes with espeak-ng itself: VITS, Matcha and Kokoro models without a
    lexicon take the phonemes of each sentence in GenerationConfig.phoneme_codepoints.
    """
    global _espeak
    from piper.phonemize_espeak import EspeakPhonemizer

    with _ESPEAK_LOCK:
        if _espeak is None:
            _espeak = EspeakPhonemizer()
        sentences = _espeak.phonemize(voice, text)
    return [[ord(p) for p in s] for s in sentences if any(p.strip() for p in s)]


@dataclass(frozen=True)
class SherpaModel:
    """A detected model folder: its kind and the files sherpa-onnx's config needs, by config field."""

    kind: Kind
    folder: Path
    files: dict[str, str] = field(default_factory=dict)
    reference: Path | None = None  # Pocket TTS: the recording whose voice it speaks with


def _onnx(folder: Path, stem: str) -> Path | None:
    """stem.int8.onnx when the folder has it (the smaller, faster export), else stem.onnx, else stem*.onnx."""
    for name in (f"{stem}.int8.onnx", f"{stem}.onnx"):
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob(f"{stem}*.onnx"))
    return found[0] if found else None


def _phonemes(folder: Path) -> dict[str, str]:
    """The front end a VITS/Kokoro/Matcha model reads with: espeak-ng data, lexicons, a jieba dict, rules."""
    out: dict[str, str] = {}
    if (folder / "espeak-ng-data").is_dir():
        out["data_dir"] = str(folder / "espeak-ng-data")
    lexicons = sorted(folder.glob("lexicon*.txt"))
    if lexicons:
        out["lexicon"] = ",".join(str(p) for p in lexicons)
    if (folder / "dict").is_dir():
        out["dict_dir"] = str(folder / "dict")
    fsts = sorted(folder.glob("*.fst"))
    if fsts:
        out["rule_fsts"] = ",".join(str(p) for p in fsts)
    return out


def pocket_reference(folder: Path) -> Path | None:
    """The reference recording shipped with a Pocket TTS folder (the official archive has test_wavs/)."""
    for pattern in ("reference.wav", "test_wavs/*.wav", "*.wav"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None


def detect(folder: str | Path) -> SherpaModel:
    """What kind of sherpa-onnx TTS model a folder holds; ModelError naming what is missing otherwise."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ModelError(f"tts voice {folder} is not a folder; give a sherpa-onnx model folder")
    pocket = {part: _onnx(folder, part) for part in POCKET_PARTS}
    if pocket["lm_main"] or pocket["lm_flow"]:
        missing = [f"{p}.onnx" for p, path in pocket.items() if path is None]
        missing += [n for n in ("vocab.json", "token_scores.json") if not (folder / n).is_file()]
        if missing:
            raise ModelError(
                f"{folder} looks like a Pocket TTS model but lacks {', '.join(missing)}; "
                "unpack the whole sherpa-onnx-pocket-tts archive there"
            )
        files = {p: str(path) for p, path in pocket.items() if path is not None}
        files["vocab_json"] = str(folder / "vocab.json")
        files["token_scores_json"] = str(folder / "token_scores.json")
        return SherpaModel("pocket", folder, files, pocket_reference(folder))
    if not (folder / "tokens.txt").is_file():
        raise ModelError(
            f"{folder} is not a sherpa-onnx TTS model folder (no tokens.txt, no lm_main.onnx); "
            "give a Pocket TTS, Kokoro, Matcha or VITS folder from sherpa-onnx's tts-models releases"
        )
    files = {"tokens": str(folder / "tokens.txt"), **_phonemes(folder)}
    models = sorted(p for p in folder.glob("*.onnx"))
    vocoders = [p for p in models if any(k in p.name.lower() for k in ("vocos", "hifigan", "vocoder"))]
    acoustic = [p for p in models if p not in vocoders]
    if (folder / "voices.bin").is_file() and acoustic:
        return SherpaModel(
            "kokoro", folder, {**files, "model": str(acoustic[0]), "voices": str(folder / "voices.bin")}
        )
    if vocoders:
        if not acoustic:
            raise ModelError(f"{folder} has a vocoder ({vocoders[0].name}) but no Matcha acoustic model")
        return SherpaModel(
            "matcha", folder, {**files, "acoustic_model": str(acoustic[0]), "vocoder": str(vocoders[0])}
        )
    if len(acoustic) == 1:
        return SherpaModel("vits", folder, {**files, "model": str(acoustic[0])})
    if not acoustic:
        raise ModelError(f"{folder} has tokens.txt but no .onnx model")
    raise ModelError(f"{folder} holds several .onnx models ({', '.join(p.name for p in acoustic)}); keep one")


def tts_config(model: SherpaModel, *, num_threads: int = 2, options: dict[str, float] | None = None):
    """The sherpa_onnx.OfflineTtsConfig for a detected folder; options set model fields (noise_scale...)."""
    import sherpa_onnx as so

    f: dict[str, str | float] = {**model.files, **(options or {})}
    rule_fsts = str(f.pop("rule_fsts", ""))
    if model.kind == "pocket":
        kind_config = {"pocket": so.OfflineTtsPocketModelConfig(**f)}
    elif model.kind == "kokoro":
        kind_config = {"kokoro": so.OfflineTtsKokoroModelConfig(**f)}
    elif model.kind == "matcha":
        kind_config = {"matcha": so.OfflineTtsMatchaModelConfig(**f)}
    else:
        kind_config = {"vits": so.OfflineTtsVitsModelConfig(**f)}
    return so.OfflineTtsConfig(
        model=so.OfflineTtsModelConfig(**kind_config, num_threads=num_threads, provider="cpu"),
        rule_fsts=rule_fsts,
        max_num_sentences=1,  # one callback per sentence: the first one is heard before the rest exist
    )


class SherpaTTS:
    """A sherpa-onnx voice; loaded on first use, one generation at a time."""

    def __init__(
        self,
        model: SherpaModel,
        *,
        name: str | None = None,
        reference: Path | None = None,
        speaking_rate: float = 1.0,
        num_threads: int = 2,
        seed: int = 0,
        options: dict[str, float] | None = None,
    ) -> None:
        self.model = model
        self.name = name or f"{model.kind}:{model.folder.name}"
        self.reference = reference or model.reference
        if model.kind == "pocket" and self.reference is None:
            raise ModelError(
                f"Pocket TTS in {model.folder} needs a reference recording: clone a voice with "
                "'sori voice clone REC.wav --name NAME' and use voice = \"pocket:NAME\""
            )
        self.speaking_rate = speaking_rate
        self.num_threads = num_threads
        self.seed = seed
        self.options = options or {}
        self._tts = None
        self._reference_audio: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        if self.model.kind == "pocket":
            return POCKET_RATE
        with self._lock:
            return int(self._load_locked().sample_rate)

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self):
        if self._tts is None:
            import sherpa_onnx as so

            config = tts_config(self.model, num_threads=self.num_threads, options=self.options)
            if not config.validate():
                raise EngineError(f"voice {self.name}: sherpa-onnx rejected the files in {self.model.folder}")
            try:
                tts = so.OfflineTts(config)
            except Exception as exc:
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise EngineError(
                    f"voice {self.name} failed to load: {first}; check {self.model.folder}"
                ) from None
            if self.model.kind == "pocket":
                from assistant.audio.decode import decode_file

                self._reference_audio = decode_file(self.reference, POCKET_RATE)  # type: ignore[arg-type]
            self._tts = tts
        return self._tts

    def _generation_config(self):
        import sherpa_onnx as so

        gen = so.GenerationConfig()
        gen.speed = float(self.speaking_rate)
        gen.sid = 0
        if self.model.kind == "pocket":
            gen.reference_audio = self._reference_audio
            gen.reference_sample_rate = POCKET_RATE
            gen.extra = {"seed": str(self.seed)}
        return gen

    @property
    def needs_phonemes(self) -> bool:
        return self.model.kind != "pocket" and "lexicon" not in self.model.files

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        spoken = normalize_for_speech(text)
        if not spoken.strip():
            return
        with self._lock:
            tts = self._load_locked()
            rate = int(tts.sample_rate)
            gen = self._generation_config()
            if self.needs_phonemes:
                gen.phoneme_codepoints = espeak_sentences(tts.lang or "en-us", spoken)
                if not gen.phoneme_codepoints:
                    return
            pieces: queue.Queue[object] = queue.Queue()
            stop = threading.Event()

            def on_audio(samples, progress: float) -> int:
                pieces.put(np.array(samples, dtype=np.float32, copy=True))  # freed when this returns
                return 0 if stop.is_set() else 1

            def work() -> None:
                try:
                    tts.generate(spoken, gen, callback=on_audio)
                except BaseException as exc:  # handed to the reader below
                    pieces.put(exc)
                finally:
                    pieces.put(_END)

            worker = threading.Thread(target=work, name="sori-sherpa-tts", daemon=True)
            worker.start()
            try:
                while (item := pieces.get()) is not _END:
                    if isinstance(item, BaseException):
                        raise EngineError(f"voice {self.name} failed: {item}") from None
                    if len(item):  # type: ignore[arg-type]
                        yield AudioChunk(item, rate, spoken)  # type: ignore[arg-type]
            finally:
                # Closed early (stop, barge-in): the callback's next return ends the generation.
                stop.set()
                worker.join()
