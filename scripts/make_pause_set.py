"""Make tests/data/pauses/: spoken questions with a pause mid-sentence, and complete ones, in Sori's voices.

Each paused question is two phrases synthesized apart, trimmed to their speech and joined by a silence
of a fixed length; each complete one is synthesized whole. Every file is 16 kHz mono 16-bit, with 0.3 s
of silence before the speech and 1.0 s after it. pauses.tsv lists what each file says and where its
speech ends (measured on the written samples).

    .venv/bin/python scripts/make_pause_set.py [--out tests/data/pauses]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.audio.decode import SAMPLE_RATE  # noqa: E402
from assistant.audio.sources import speech_bounds  # noqa: E402

VOICES = ("piper-en_US-joe-medium", "hibari-heart")
LEAD_S, TAIL_S = 0.3, 1.0
FADE_S = 0.005  # a short fade at each cut, so trimming never clicks
COLUMNS = ("file", "kind", "text", "first_part", "pause_ms", "speech_end_s", "voice")

# (first part, rest, tool request?). Most pauses come after a function word; the ones marked "hard"
# follow a first part that could pass for a whole request.
PAUSED: list[tuple[str, str, bool]] = [
    ("Set a timer for", "ten minutes.", True),
    ("What's the weather in", "Lisbon?", True),
    ("Add a note that", "I parked on level three.", True),
    ("Remind me to", "call my mother tomorrow.", True),
    ("What time is it in", "Tokyo right now?", True),
    ("Calculate fifteen percent of", "eighty dollars.", True),
    ("Will it rain in", "Berlin tomorrow?", True),
    ("Take a note that the", "dentist moved to Thursday.", True),
    ("What is seven times", "twelve?", True),
    ("What's the weather", "in Lisbon?", True),  # hard
    ("Set a timer", "for five minutes.", True),  # hard
    ("Add a note", "to buy milk and eggs.", True),  # hard
    ("What is the capital of", "Australia?", False),
    ("Can you tell me", "a joke about cats?", False),
    ("Who wrote the", "novel Pride and Prejudice?", False),
    ("How far is the moon from", "the Earth?", False),
    ("What is the tallest mountain in", "Africa?", False),
    ("Explain to me how", "rainbows form.", False),
    ("What's a good name for", "a small black cat?", False),
    ("What is the difference between", "a frog and a toad?", False),
    ("Tell me something interesting about", "octopuses.", False),
    ("Tell me a joke", "about dogs.", False),  # hard
    ("Give me a recipe", "for banana bread.", False),  # hard
    ("Who painted", "the Mona Lisa?", False),  # hard
]

COMPLETE: list[tuple[str, bool]] = [
    ("Set a timer for fifteen minutes.", True),
    ("What's the weather in Paris?", True),
    ("Add a note that the keys are in the drawer.", True),
    ("What time is it?", True),
    ("What time is it in London?", True),
    ("Calculate twelve times nineteen.", True),
    ("Will it rain in Madrid tomorrow?", True),
    ("Start a timer for half an hour.", True),
    ("Note that the plumber comes on Friday.", True),
    ("What is two hundred divided by eight?", True),
    ("How warm is it in Rome today?", True),
    ("Remind me to water the plants tonight.", True),
    ("What is the capital of Canada?", False),
    ("Tell me a joke about penguins.", False),
    ("Who wrote Romeo and Juliet?", False),
    ("How far is the sun from the Earth?", False),
    ("What is the largest ocean on Earth?", False),
    ("Who painted The Starry Night?", False),
    ("How do you make a cup of black tea?", False),
    ("What is the difference between a cello and a violin?", False),
    ("Give me a recipe for pancakes.", False),
    ("Tell me something interesting about owls.", False),
    ("Why is the sky blue?", False),
    ("How many legs does a spider have?", False),
]


def pause_ms(i: int, n: int) -> int:
    """Pauses spread evenly over 400..900 ms, in a shuffled but fixed order."""
    step = (i * 11) % n  # 11 is coprime with 24: every level once
    return 400 + round(500 * step / (n - 1))


def _engines() -> dict[str, object]:
    from assistant import engines
    from assistant.config import Settings
    from assistant.errors import SoriError

    settings = Settings.model_validate({"profile": "small"})
    found: dict[str, object] = {}
    for voice in VOICES:
        try:
            engine = engines.build_tts(settings, voice)
            engine.load()  # type: ignore[attr-defined]
        except SoriError as exc:
            print(f"skipping voice {voice}: {exc}", file=sys.stderr)
            continue
        found[voice] = engine
    if not found:
        sys.exit("make_pause_set: no voice could be loaded; install one with `sori models install ID`")
    return found


def speak(engine, text: str) -> np.ndarray:
    """`text` in `engine`'s voice, at 16 kHz, trimmed to its speech."""
    import soxr

    chunks = list(engine.synthesize(text))
    audio = np.concatenate([c.samples for c in chunks]).astype(np.float32)
    audio = soxr.resample(audio, chunks[0].sample_rate, SAMPLE_RATE).astype(np.float32)
    bounds = speech_bounds(audio)
    if bounds is None:
        raise RuntimeError(f"the voice said nothing for {text!r}")
    audio = audio[round(bounds[0] * SAMPLE_RATE) : round(bounds[1] * SAMPLE_RATE)].copy()
    fade = min(round(FADE_S * SAMPLE_RATE), len(audio) // 2)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    audio[:fade] *= ramp
    audio[len(audio) - fade :] *= ramp[::-1]
    return audio


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), np.float32)


def write_pcm16(path: Path, samples: np.ndarray) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())


def read_pcm16(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767.0


def _slug(text: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", text.lower())[:4])


def _licences(voices: list[str]) -> list[str]:
    lines = []
    for voice in voices:
        meta = tomllib.loads((REPO / "models" / f"{voice}.toml").read_text())
        lines.append(
            f"- `{voice}`: {meta['description']}. Licence: {meta['license']}. Origin: {meta['origin']}."
        )
    return lines


def _readme(voices: list[str], rows: list[dict], size: int) -> str:
    paused = sum(r["kind"] == "paused" for r in rows)
    return "\n".join(
        [
            "# Questions with a pause mid-sentence, and complete ones",
            "",
            f"{paused} recordings pause mid-sentence for 400 to 900 ms (`kind` = `paused`), and "
            f"{len(rows) - paused} say a whole question or request without a pause (`complete`). "
            "Half of each are tool requests (timer, weather, note, time, calculation), half general "
            "questions. "
            'Most pauses follow a function word ("Set a timer for ... ten minutes."); a few follow a first '
            'part that could pass for a whole request ("What\'s the weather ... in Lisbon?").',
            "",
            "They measure when the voice loop decides that the user's turn has ended: "
            "`assistant.cli.bench_pauses.bench_pauses`, and `tests/test_pauses.py`.",
            "",
            "## How they were made",
            "",
            "Synthesized with Sori's own local voices, alternating between them file by file:",
            "",
            *_licences(voices),
            "",
            "A paused question is its two parts synthesized separately, each trimmed to its speech "
            "(energy above "
            "-45 dBFS in 10 ms windows, `assistant.audio.sources.speech_bounds`) and joined by `pause_ms` of "
            "digital silence. Everything is resampled to 16 kHz mono 16-bit PCM, with 0.3 s of silence "
            "before the speech and 1.0 s after it.",
            "",
            "`pauses.tsv` columns: `file`; `kind` (`paused` | `complete`); `text` (all that is said); "
            "`first_part` (what comes before the pause; empty for complete ones); `pause_ms` (0 for complete "
            "ones); `speech_end_s` (end of the last word, seconds from the start of the file, measured on "
            "the "
            "written samples with `speech_bounds`); `voice` (catalog id).",
            "",
            f"Total size: {size / 1e6:.1f} MB.",
            "",
            "## Regenerating",
            "",
            "    .venv/bin/python scripts/make_pause_set.py",
            "",
            "The texts, pauses and voices are fixed in the script. The hibari voice gives the same samples "
            "every time; the Piper voice samples its noise afresh, so its files differ slightly on each run "
            "(the manifest is rewritten to match).",
            "",
        ]
    )


def build(out: Path) -> list[dict]:
    engines = _engines()
    voices = list(engines)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.wav"):
        old.unlink()
    rows: list[dict] = []
    jobs = [("paused", (a, b), tool) for a, b, tool in PAUSED] + [
        ("complete", (t,), tool) for t, tool in COMPLETE
    ]
    counts = {"paused": 0, "complete": 0}
    for kind, parts, _tool in jobs:
        i = counts[kind]
        counts[kind] += 1
        voice = voices[(i + (kind == "complete")) % len(voices)]
        engine = engines[voice]
        text = " ".join(parts)
        if kind == "paused":
            gap = pause_ms(i, len(PAUSED))
            speech = np.concatenate([speak(engine, parts[0]), _silence(gap / 1000), speak(engine, parts[1])])
        else:
            gap = 0
            speech = speak(engine, text)
        name = f"{kind[0]}{i + 1:02d}_{_slug(text)}.wav"
        write_pcm16(out / name, np.concatenate([_silence(LEAD_S), speech, _silence(TAIL_S)]))
        bounds = speech_bounds(read_pcm16(out / name))
        assert bounds is not None
        rows.append(
            {
                "file": name,
                "kind": kind,
                "text": text,
                "first_part": parts[0] if kind == "paused" else "",
                "pause_ms": gap,
                "speech_end_s": f"{bounds[1]:.3f}",
                "voice": voice,
            }
        )
        print(f"{name}\t{gap}\t{voice}")
    lines = ["\t".join(COLUMNS)] + ["\t".join(str(r[c]) for c in COLUMNS) for r in rows]
    (out / "pauses.tsv").write_text("\n".join(lines) + "\n")
    size = sum(p.stat().st_size for p in out.glob("*.wav"))
    (out / "README.md").write_text(_readme(voices, rows, size))
    print(f"{len(rows)} files, {size / 1e6:.1f} MB in {out}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "pauses")
    build(parser.parse_args().out)


if __name__ == "__main__":
    main()
