"""`sori bench tts`: every usable voice against its bare library, on the shared Harvard sentences.

For each voice: real-time factor and time to the first chunk of each sentence (Sori's engine and the bare
library, alternating runs), and round-trip intelligibility: each sentence spoken, then transcribed by the
profile's Whisper, scored as word error rate against the text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from assistant.errors import InputError

Stream = Callable[[str], Iterable[tuple[np.ndarray, int]]]


def _bare_hibari(path: Path, rate: float) -> Stream:
    from hibari import Hibari

    engine = Hibari(model=str(path))
    return lambda s: ((a, engine.sample_rate) for a in engine.stream(s, speed=rate, seed=0))


def _bare_piper(path: Path, rate: float) -> Stream:
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(path)
    syn = SynthesisConfig(length_scale=1.0 / rate)
    return lambda s: ((c.audio_float_array, c.sample_rate) for c in voice.synthesize(s, syn))


def _bare_sherpa(engine, rate: float) -> Stream:
    """sherpa-onnx called directly: generate() with a callback, in the caller's thread."""
    import sherpa_onnx as so

    from assistant.tts.sherpa import espeak_sentences, tts_config

    tts = so.OfflineTts(tts_config(engine.model, num_threads=engine.num_threads, options=engine.options))
    engine.load()  # the reference recording, decoded

    def stream(sentence: str) -> Iterator[tuple[np.ndarray, int]]:
        gen = engine._generation_config()
        gen.speed = rate
        if engine.needs_phonemes:
            gen.phoneme_codepoints = espeak_sentences(tts.lang or "en-us", sentence)
        pieces: list[np.ndarray] = []
        tts.generate(sentence, gen, callback=lambda s, p: pieces.append(np.array(s, np.float32)) or 1)
        return ((p, tts.sample_rate) for p in pieces)

    return stream


def _bare(engine, rate: float) -> Stream:
    from assistant.tts.hibari import HibariTTS
    from assistant.tts.piper import PiperTTS
    from assistant.tts.sherpa import SherpaTTS

    if isinstance(engine, HibariTTS):
        return _bare_hibari(engine.model.path, rate)
    if isinstance(engine, PiperTTS):
        return _bare_piper(engine.model.path, rate)
    if isinstance(engine, SherpaTTS):
        return _bare_sherpa(engine, rate)
    raise InputError(f"bench tts: no bare library known for {type(engine).__name__}")


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def _timing(stream: Stream, sentences: list[str]) -> dict[str, float]:
    from assistant.cli.bench import _median

    firsts, audio_s, t_all = [], 0.0, time.perf_counter()
    for sentence in sentences:
        t0 = time.perf_counter()
        for i, (samples, rate) in enumerate(stream(sentence)):
            if i == 0:
                firsts.append((time.perf_counter() - t0) * 1000)
            audio_s += len(samples) / rate
    return {"rtf": (time.perf_counter() - t_all) / audio_s, "first_chunk_ms": _median(firsts)}


def round_trip_wer(stream: Stream, sentences: list[str], stt) -> float:
    """Speak each sentence, transcribe it with Whisper, and score the words heard against the text."""
    import jiwer
    import soxr

    heard = []
    for sentence in sentences:
        parts = list(stream(sentence))
        rate = parts[0][1] if parts else 16_000
        audio = np.concatenate([p for p, _ in parts]) if parts else np.zeros(1600, np.float32)
        audio16k = soxr.resample(audio, rate, 16_000).astype(np.float32)
        heard.append(stt.transcribe(audio16k, language="en").text)
    return float(jiwer.wer([_norm(s) for s in sentences], [_norm(h) for h in heard]))


def _compare(engine, bare: Stream, runs: int, sentences: list[str]) -> tuple[dict, dict]:
    from assistant.cli.bench import _pair

    def sori(sentence: str):
        return ((c.samples, c.sample_rate) for c in engine.synthesize(sentence))

    s, b = _pair(runs, lambda: _timing(sori, sentences), lambda: _timing(bare, sentences))
    return s, b


def bench_tts(assistant, runs: int, sentence_file: Path) -> dict:
    from assistant.tts.select import available_voices, make_engine

    try:
        import jiwer  # noqa: F401
    except ImportError:
        raise InputError("bench tts needs jiwer for the word error rate: pip install jiwer") from None
    try:
        sentences = [s.strip() for s in sentence_file.read_text("utf-8").splitlines() if s.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{sentence_file}: cannot be read ({exc}); give a text file, one sentence a line"
        ) from None
    if not sentences:
        raise InputError(f"{sentence_file}: no sentences; give a text file, one sentence a line")
    settings = assistant.settings
    rate = settings.tts.speaking_rate
    current = assistant.tts
    current.load()
    stt = assistant.stt
    voices = []
    chosen: dict = {}
    for choice in available_voices(settings):
        if not choice.usable:
            continue
        engine = make_engine(choice.value, settings)
        engine.load()  # type: ignore[attr-defined]
        bare = _bare(engine, rate)
        s, b = _compare(engine, bare, runs, sentences)
        spoken: Stream = lambda text, e=engine: ((c.samples, c.sample_rate) for c in e.synthesize(text))  # noqa: E731
        voices.append(
            {
                "voice": choice.value,
                "engine": choice.engine,
                "sample_rate": engine.sample_rate,
                "sori": {**s, "wer": round_trip_wer(spoken, sentences, stt)},
                "bare": {**b, "wer": round_trip_wer(bare, sentences, stt)},
            }
        )
        if engine.name == current.name:
            chosen = {"sori": s, "bare": b}
    if not chosen:  # a voice outside the list (a Piper file given by path)
        s, b = _compare(current, _bare(getattr(current, "engine", current), rate), runs, sentences)
        chosen = {"sori": s, "bare": b}
        voices.append({"voice": current.name, "engine": "", "sample_rate": current.sample_rate, **chosen})
    return {
        "voice": current.name,
        "stt": stt.name,
        "file": sentence_file.name,
        "sentences": len(sentences),
        **chosen,
        "voices": voices,
    }
