"""Text to speech with the real Piper voice, and the say -> transcribe round trip."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import wave

import jiwer
import numpy as np

from tests.conftest import assert_clean_error


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def test_say_writes_a_wav(sori, tmp_path):
    out = tmp_path / "hello.wav"
    r = sori("say", "Hello! It is 21°C and sunny, e.g. a good day for a 5 km walk.", "-o", str(out))
    assert r.returncode == 0, r.stderr
    with wave.open(str(out)) as w:
        assert w.getframerate() == 22050 and w.getnchannels() == 1
        seconds = w.getnframes() / w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert 3.0 < seconds < 15.0
    assert np.abs(samples).max() > 3000  # real speech, not silence


def test_say_errors(sori, tmp_path):
    assert_clean_error(sori("say", "  ", "-o", str(tmp_path / "x.wav")), "empty")
    assert_clean_error(sori("say", "hi", "-o", str(tmp_path / "no" / "dir" / "x.wav")), "does not exist")


def test_streaming_one_chunk_per_sentence(engines):
    tts = engines[2]
    chunks = list(tts.synthesize("First sentence here. And a second one! Is this the third?"))
    assert len(chunks) == 3
    assert all(
        c.sample_rate == 22050 and c.samples.dtype == np.float32 and len(c.samples) > 4000 for c in chunks
    )


def test_round_trip_wer_not_worse_than_bare_libraries(sori, shared, engines, tmp_path):
    from faster_whisper import WhisperModel

    sentences = [s.strip() for s in (shared / "eval" / "harvard.txt").read_text().splitlines() if s.strip()]
    files = []
    for i, sentence in enumerate(sentences):
        path = tmp_path / f"sori_{i:02d}.wav"
        r = sori("say", sentence, "-o", str(path))
        assert r.returncode == 0, r.stderr
        files.append(str(path))
    r = sori("transcribe", "--json", *files)
    assert r.returncode == 0, r.stderr
    sori_text = [item["text"] for item in json.loads(r.stdout)]

    # The bare libraries, each sentence in a fresh process like `sori say`: piper's own command line,
    # then faster-whisper on the same model and decoding settings.
    whisper = WhisperModel(str(engines[0].model.path), device="cpu", compute_type="int8")
    bare_text = []
    for i, sentence in enumerate(sentences):
        path = tmp_path / f"bare_{i:02d}.wav"
        subprocess.run(
            [sys.executable, "-m", "piper", "-m", str(engines[2].model.path), "-f", str(path)],
            input=sentence,
            text=True,
            check=True,
            capture_output=True,
        )
        segments, _ = whisper.transcribe(str(path), language="en", beam_size=1)
        bare_text.append(" ".join(s.text.strip() for s in segments))

    ref = [_norm(s) for s in sentences]
    sori_wer = jiwer.wer(ref, [_norm(t) for t in sori_text])
    bare_wer = jiwer.wer(ref, [_norm(t) for t in bare_text])
    print(f"\nround trip WER on harvard.txt: sori {sori_wer:.3f}, bare piper+faster-whisper {bare_wer:.3f}")
    # Piper samples noise on every run: the same pipeline measured 0.11-0.16 across runs (13 vs 9 of 80
    # words), so "not worse" allows that spread and no more.
    assert sori_wer <= bare_wer + 0.05
    assert sori_wer < 0.25
