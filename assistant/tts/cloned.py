"""Cloned voices: a checked reference recording per name in Sori's data folder, spoken by Pocket TTS.

A reference must be 3 to 30 s of one person speaking: the codec language model copies whatever it hears
(room, noise, music, distortion) into every answer, so silence, noise, music and clipping are refused.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant import paths
from assistant.errors import AudioInputError, InputError, ModelError

RATE = 24_000  # stored at Pocket TTS's own rate
MIN_SPEECH_S, MAX_SPEECH_S = 3.0, 30.0
MAX_FILE_S = 60.0  # a longer file is not a short reference, whatever it holds
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


@dataclass(frozen=True)
class ClonedVoice:
    name: str
    path: Path
    speech_s: float
    source: str


def voices_dir() -> Path:
    return paths.data_dir() / "voices"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InputError(
            f"{name!r} is not a voice name; use 1 to 40 letters, digits, '-' or '_' (not first)"
        )
    return name


def _speech_spans(audio16k: np.ndarray) -> list[tuple[int, int]]:
    """Silero VAD (shipped with faster-whisper): speech only, where energy detectors also take noise."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(
        audio16k, VadOptions(threshold=0.5, min_speech_duration_ms=250, min_silence_duration_ms=300)
    )
    return [(s["start"], s["end"]) for s in spans]


def check_recording(path: str | Path) -> tuple[np.ndarray, float]:
    """The recording at 24 kHz, trimmed to its speech, and the seconds of speech; InputError if unusable."""
    import soxr

    from assistant.audio.decode import decode_file

    path = Path(path)
    try:
        audio = decode_file(path, RATE)
    except AudioInputError as exc:
        raise InputError(f"{exc}; record 3 to 30 s of your voice as a WAV file") from None
    seconds = len(audio) / RATE
    if seconds > MAX_FILE_S:
        raise InputError(
            f"{path}: {seconds:.0f} s is too long for a voice reference; cut 3 to 30 s of clear speech out"
        )
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak < 1e-3 or float(np.sqrt(np.mean(audio**2))) < 3e-4:
        raise InputError(f"{path}: the recording is silent; check the microphone and record again")
    # Clipping: many samples pinned at the loudest value (a clean recording touches its peak a few times).
    loud = np.abs(audio) >= 0.98 * peak
    if peak >= 0.9 and np.count_nonzero(loud) > max(50, 0.001 * len(audio)):
        raise InputError(
            f"{path}: the recording is clipped (too loud, distorted); record again with a lower input level"
        )
    spans = _speech_spans(soxr.resample(audio, RATE, 16_000).astype(np.float32))
    speech_s = sum(e - s for s, e in spans) / 16_000
    if speech_s < 0.5 or (speech_s < 0.3 * seconds and seconds >= MIN_SPEECH_S):
        raise InputError(
            f"{path}: no clear speech found (noise or music?); record yourself talking in a quiet room"
        )
    if speech_s < MIN_SPEECH_S:
        raise InputError(f"{path}: only {speech_s:.1f} s of speech; record 3 to 30 s of your voice")
    if speech_s > MAX_SPEECH_S:
        raise InputError(f"{path}: {speech_s:.0f} s of speech is too long; keep 3 to 30 s of it")
    pad = int(0.2 * RATE)  # keep a breath around the speech, drop long silences at the ends
    start = max(0, spans[0][0] * RATE // 16_000 - pad)
    end = min(len(audio), spans[-1][1] * RATE // 16_000 + pad)
    return audio[start:end].astype(np.float32), speech_s


def store(name: str, recording: str | Path, *, replace: bool = False) -> ClonedVoice:
    """Check a recording and keep it as voice NAME (NAME.wav and NAME.json in the voices folder)."""
    from assistant.audio.wav import to_int16

    check_name(name)
    folder = voices_dir()
    target = folder / f"{name}.wav"
    if target.exists() and not replace:
        raise InputError(f"a voice named {name!r} exists; choose another name or add --replace")
    audio, speech_s = check_recording(recording)
    folder.mkdir(parents=True, exist_ok=True)
    import wave

    tmp = target.with_name(target.name + ".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(to_int16(audio))
    os.replace(tmp, target)  # a half-written reference never replaces a good one
    info = {"name": name, "source": str(Path(recording).resolve()), "speech_s": round(speech_s, 2)}
    info["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    target.with_suffix(".json").write_text(json.dumps(info, indent=1), "utf-8")
    return ClonedVoice(name, target, speech_s, info["source"])


def cloned_voices() -> list[ClonedVoice]:
    out = []
    for wav in sorted(voices_dir().glob("*.wav")):
        try:
            info = json.loads(wav.with_suffix(".json").read_text("utf-8"))
        except (OSError, ValueError):
            info = {}
        out.append(ClonedVoice(wav.stem, wav, float(info.get("speech_s", 0.0)), str(info.get("source", ""))))
    return out


def cloned_voice(name: str) -> ClonedVoice:
    for v in cloned_voices():
        if v.name == name:
            return v
    known = ", ".join(v.name for v in cloned_voices()) or "none yet"
    raise ModelError(
        f"no cloned voice named {name!r} (have: {known}); make one: sori voice clone REC.wav --name {name}"
    )


POCKET_ARCHIVE = "sherpa-onnx-pocket-tts-int8-2026-01-26"


def pocket_model_dir(configured: str = "") -> Path | None:
    """The Pocket TTS folder: the configured one, else the newest sherpa-onnx-pocket-tts-* in models/."""
    if configured:
        return Path(configured).expanduser()
    found = sorted(p for p in paths.models_dir().glob("sherpa-onnx-pocket-tts*") if p.is_dir())
    return found[-1] if found else None


def missing_pocket_message(configured: str = "") -> str:
    where = Path(configured).expanduser() if configured else paths.models_dir() / POCKET_ARCHIVE
    return (
        f"the Pocket TTS model is not installed: unpack {POCKET_ARCHIVE}.tar.bz2 (sherpa-onnx tts-models "
        f"release) into {where.parent} so that {where}/lm_main.int8.onnx exists"
    )
