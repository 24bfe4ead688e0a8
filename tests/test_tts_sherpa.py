"""sherpa-onnx voices: a real VITS model (the Piper joe voice exported the way sherpa-onnx's own scripts do),
Pocket TTS as far as it runs without its weights (detection, configuration, voice selection), and the
checks `sori voice clone` makes on a reference recording."""

from __future__ import annotations

import json
import re
import threading
import time
import wave
from pathlib import Path

import jiwer
import numpy as np
import pytest

from assistant import models
from assistant.audio.decode import decode_file
from tests.conftest import assert_clean_error

PIPER = "piper-en_US-joe-medium"


@pytest.fixture(scope="session")
def vits_folder(tmp_path_factory) -> Path:
    """joe as a sherpa-onnx VITS folder: model.onnx with the metadata sherpa-onnx reads, and tokens.txt."""
    import onnx

    src = models.resolve("tts", PIPER, "small").path
    config = json.loads(src.with_name(src.name + ".json").read_text("utf-8"))
    folder = tmp_path_factory.mktemp("vits-piper-en_US-joe-medium")
    with (folder / "tokens.txt").open("w", encoding="utf-8") as f:
        for symbol, ids in config["phoneme_id_map"].items():
            if symbol != "\n":
                f.write(f"{symbol} {ids[0]}\n")
    model = onnx.load(str(src))
    del model.metadata_props[:]
    meta = {
        "model_type": "vits",
        "comment": "piper",  # sherpa-onnx adds Piper's sentence markers and blanks for this one
        "language": "English",
        "voice": config["espeak"]["voice"],
        "has_espeak": 1,
        "n_speakers": config["num_speakers"],
        "sample_rate": config["audio"]["sample_rate"],
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(folder / "model.onnx"))
    return folder


@pytest.fixture(scope="session")
def vits(vits_folder):
    from assistant.tts.sherpa import SherpaTTS, detect

    tts = SherpaTTS(detect(vits_folder))
    tts.load()
    return tts


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


@pytest.mark.slow  # a real voice model
def test_vits_folder_is_detected_and_streams_sentence_by_sentence(vits, vits_folder):
    assert vits.model.kind == "vits" and vits.model.files["model"] == str(vits_folder / "model.onnx")
    assert vits.sample_rate == 22050
    chunks = []
    t0 = time.perf_counter()
    for chunk in vits.synthesize("First sentence here. And a second one! Is this the third?"):
        chunks.append((time.perf_counter() - t0, chunk))
    assert len(chunks) == 3  # one per sentence, each handed over when it is ready
    assert chunks[0][0] < chunks[-1][0]
    for _, c in chunks:
        assert c.sample_rate == 22050 and c.samples.dtype == np.float32
        assert len(c.samples) > 0.5 * 22050 and np.abs(c.samples).max() > 0.05  # speech, not silence


@pytest.mark.slow  # a real voice model
def test_vits_stop_ends_generation_and_frees_the_engine(vits):
    long_text = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 30))
    chunks = vits.synthesize(long_text)
    first = next(chunks)
    assert len(first.samples) > 0
    t0 = time.perf_counter()
    chunks.close()  # what SpeechOutput does on barge-in: the generator is dropped after one sentence
    closed_s = time.perf_counter() - t0
    assert closed_s < 2.0, closed_s  # the callback's 0 stopped it; 28 sentences would take far longer
    again = list(vits.synthesize("Still here."))  # the lock was released
    assert len(again) == 1


@pytest.mark.slow  # a real voice model
def test_vits_stop_through_speech_output(vits):
    from assistant.audio.sinks import NullSink
    from assistant.speech import SpeechOutput

    speech = SpeechOutput(vits, NullSink(realtime=True))
    speech.say("One sentence first. " + " ".join(f"Then sentence {n}." for n in range(2, 12)))
    deadline = time.monotonic() + 20
    while speech.first_audio_t is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    speech.stop()
    speech.finish()
    assert speech.interrupted
    heard = speech.played_text().split()
    assert 0 < len(heard) < 20  # cut off early: only what was played counts


def test_vits_round_trip_wer_within_two_points_of_piper(vits_folder, engines, shared):
    """Same voice, same phonemes: sherpa-onnx through Sori against piper-tts, heard by the small Whisper.

    VITS samples noise on every run; both sides run without it here, so the difference measured is the
    engines', not the dice's.
    """
    from piper import PiperVoice, SynthesisConfig

    from assistant.text.normalize import normalize_for_speech
    from assistant.tts.sherpa import SherpaTTS, detect

    stt = engines[0]
    sentences = [s.strip() for s in (shared / "eval" / "harvard.txt").read_text().splitlines() if s.strip()]
    sherpa = SherpaTTS(detect(vits_folder), options={"noise_scale": 0.0, "noise_scale_w": 0.0})
    piper = PiperVoice.load(models.resolve("tts", PIPER, "small").path)
    syn = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def heard(chunks) -> str:
        audio = np.concatenate([c for c, _ in chunks])
        rate = chunks[0][1]
        import soxr

        return stt.transcribe(soxr.resample(audio, rate, 16_000).astype(np.float32), language="en").text

    sherpa_text, piper_text = [], []
    for s in sentences:
        sherpa_text.append(heard([(c.samples, c.sample_rate) for c in sherpa.synthesize(s)]))
        spoken = piper.synthesize(normalize_for_speech(s), syn)
        piper_text.append(heard([(c.audio_float_array, c.sample_rate) for c in spoken]))
    ref = [_norm(s) for s in sentences]
    sherpa_wer = jiwer.wer(ref, [_norm(t) for t in sherpa_text])
    piper_wer = jiwer.wer(ref, [_norm(t) for t in piper_text])
    print(f"\nVITS joe round trip WER: sherpa-onnx {sherpa_wer:.3f}, piper-tts {piper_wer:.3f}")
    assert abs(sherpa_wer - piper_wer) <= 0.02
    assert sherpa_wer < 0.25


def test_sori_say_with_a_sherpa_folder(sori, vits_folder, tmp_path):
    out = tmp_path / "vits.wav"
    r = sori("--voice", str(vits_folder), "say", "A sherpa voice speaks.", "-o", str(out))
    assert r.returncode == 0, r.stderr
    with wave.open(str(out)) as w:
        assert w.getframerate() == 22050 and w.getnframes() > 22050 // 2


# -- Pocket TTS without its weights -------------------------------------------------------------------


def _pocket_folder(root: Path, *, int8: bool = True, skip: str = "") -> Path:
    """The official archive's layout, with empty stand-ins for the ONNX files."""
    folder = root / "sherpa-onnx-pocket-tts-int8-2026-01-26"
    (folder / "test_wavs").mkdir(parents=True)
    for part in ("lm_main", "lm_flow", "decoder"):
        (folder / f"{part}.int8.onnx" if int8 else folder / f"{part}.onnx").write_bytes(b"")
        (folder / f"{part}.onnx").write_bytes(b"")
    for name in ("encoder.onnx", "text_conditioner.onnx", "vocab.json", "token_scores.json"):
        if name != skip:
            (folder / name).write_bytes(b"")
    (folder / "test_wavs" / "bria.wav").write_bytes(b"")
    return folder


def test_pocket_folder_detection_and_config(tmp_path):
    from assistant.tts.sherpa import detect, tts_config

    folder = _pocket_folder(tmp_path)
    model = detect(folder)
    assert model.kind == "pocket"
    assert model.files["lm_main"] == str(folder / "lm_main.int8.onnx")  # the int8 export is preferred
    assert model.files["encoder"] == str(folder / "encoder.onnx")
    assert model.reference == folder / "test_wavs" / "bria.wav"
    config = tts_config(model, num_threads=2)
    pocket = config.model.pocket
    assert (pocket.lm_main, pocket.lm_flow, pocket.decoder) == tuple(
        str(folder / f"{p}.int8.onnx") for p in ("lm_main", "lm_flow", "decoder")
    )
    assert pocket.encoder == str(folder / "encoder.onnx")
    assert pocket.text_conditioner == str(folder / "text_conditioner.onnx")
    assert pocket.vocab_json == str(folder / "vocab.json")
    assert pocket.token_scores_json == str(folder / "token_scores.json")
    assert config.model.num_threads == 2 and config.model.provider == "cpu"
    assert config.max_num_sentences == 1
    assert config.model.vits.model == "" and config.model.kokoro.model == ""


def test_pocket_folder_missing_a_file_is_named(tmp_path):
    from assistant.errors import ModelError
    from assistant.tts.sherpa import detect

    with pytest.raises(ModelError, match="token_scores.json"):
        detect(_pocket_folder(tmp_path, skip="token_scores.json"))
    with pytest.raises(ModelError, match="not a sherpa-onnx TTS model folder"):
        detect(tmp_path / "sherpa-onnx-pocket-tts-int8-2026-01-26" / "test_wavs")


def test_pocket_voice_selection_and_generation_config(sori, shared, tmp_path, small_settings):
    from assistant.config import apply_overrides
    from assistant.tts.select import make_engine

    r = sori("voice", "clone", str(shared / "audio" / "jfk.flac"), "--name", "kennedy")
    assert r.returncode == 0, r.stderr
    # No Pocket model yet: the voice exists, speaking with it says where the model goes.
    assert_clean_error(sori("--voice", "pocket:kennedy", "say", "Hello."), "sherpa-onnx-pocket-tts", "unpack")
    folder = _pocket_folder(tmp_path / "models")
    settings = apply_overrides(small_settings, **{"tts.pocket_model": str(folder)})
    engine = make_engine("pocket:kennedy", settings)
    assert engine.name == "pocket:kennedy" and engine.sample_rate == 24000  # no model load needed
    assert engine.reference.name == "kennedy.wav"
    engine._reference_audio = decode_file(engine.reference, 24000)
    gen = engine._generation_config()
    assert gen.reference_sample_rate == 24000 and len(gen.reference_audio) == len(engine._reference_audio)
    assert gen.extra["seed"] == "0"
    # Empty stand-in files: loading fails with one clear line, never a crash.
    config = Path(tmp_path / "config" / "config.toml")
    config.write_text(config.read_text() + f'\n[tts]\npocket_model = "{folder}"\n')
    out = str(tmp_path / "never.wav")
    assert_clean_error(sori("--voice", "pocket:kennedy", "say", "Hello.", "-o", out), "pocket:kennedy")
    assert not Path(out).exists()
    assert_clean_error(sori("--voice", "pocket:nobody", "say", "Hi.", "-o", out), "no cloned voice named")


# -- sori voice clone / list ---------------------------------------------------------------------------


def _write(path: Path, audio: np.ndarray, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def jfk(shared) -> np.ndarray:
    return decode_file(shared / "audio" / "jfk.flac")  # 11 s of one man speaking, 16 kHz


def _music(seconds: float = 8.0) -> np.ndarray:
    """Plucked three-note chords over hiss: loud, tonal and rhythmic, but no speech."""
    t = np.arange(int(16_000 * seconds)) / 16_000
    out = 0.05 * np.random.default_rng(1).standard_normal(len(t))
    for i, f0 in enumerate((220, 277, 330, 440, 392, 349, 262, 294)):
        seg = (t >= i) & (t < i + 1)
        for f in (f0, f0 * 1.25, f0 * 1.5):
            out[seg] += 0.15 * np.sin(2 * np.pi * f * t[seg]) * np.exp(-3 * (t[seg] - i))
    return out.astype(np.float32)


@pytest.mark.parametrize(
    "case,needle",
    [
        ("one_second", "only 1.0 s of speech"),
        ("five_minutes", "too long"),
        ("silence", "silent"),
        ("music", "no clear speech"),
        ("noise", "no clear speech"),
        ("clipped", "clipped"),
        ("not_audio", "cannot be decoded"),
    ],
)
def test_clone_rejects_unusable_recordings(sori, jfk, tmp_path, case, needle):
    rec = tmp_path / f"{case}.wav"
    if case == "one_second":
        _write(rec, jfk[8000:24000])
    elif case == "five_minutes":
        _write(rec, np.tile(jfk, 28))
    elif case == "silence":
        _write(rec, np.zeros(16_000 * 6, np.float32))
    elif case == "music":
        _write(rec, _music())
    elif case == "noise":
        _write(rec, 0.2 * np.random.default_rng(2).standard_normal(16_000 * 8).astype(np.float32))
    elif case == "clipped":
        _write(rec, jfk * 12)
    else:
        rec.write_text("this is not audio\n")
    assert_clean_error(sori("voice", "clone", str(rec), "--name", "test"), needle)
    assert not (tmp_path / "data" / "voices" / "test.wav").exists()  # nothing half-stored


def test_clone_stores_a_named_voice_and_lists_it(sori, jfk, tmp_path):
    rec = _write(tmp_path / "me.wav", np.concatenate([np.zeros(32_000, np.float32), jfk]))
    r = sori("voice", "clone", str(rec), "--name", "me")
    assert r.returncode == 0, r.stderr
    stored = tmp_path / "data" / "voices" / "me.wav"
    with wave.open(str(stored)) as w:
        assert w.getframerate() == 24000 and w.getnchannels() == 1
        seconds = w.getnframes() / 24000
    assert 9.0 < seconds < 12.0  # the leading 2 s of silence were trimmed, the speech kept
    info = json.loads(stored.with_suffix(".json").read_text())
    assert info["name"] == "me" and 9.0 < info["speech_s"] < 12.0
    # The same name again is refused unless --replace; a bad name is refused.
    assert_clean_error(sori("voice", "clone", str(rec), "--name", "me"), "exists", "--replace")
    assert sori("voice", "clone", str(rec), "--name", "me", "--replace").returncode == 0
    assert_clean_error(sori("voice", "clone", str(rec), "--name", "../x"), "not a voice name")
    r = sori("voice", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(ln.startswith("* hibari-heart") and " ok " in ln for ln in lines)  # the profile's voice
    assert any(PIPER in ln for ln in lines)
    assert any("pocket:me" in ln and " no " in ln for ln in lines)  # listed; needs the Pocket model
    assert any("sherpa-onnx-pocket-tts-int8-2026-01-26" in ln for ln in lines)


def test_voice_switch_takes_effect_on_the_next_sentence(small_settings):
    """Saving the settings calls Assistant.set_voice: a reply being spoken changes voice between sentences."""
    from assistant.audio.sinks import NullSink
    from assistant.core import Assistant
    from assistant.speech import SpeechOutput

    assistant = Assistant(small_settings)
    rates: list[int] = []

    class Recorder(NullSink):
        def play(self, samples, sample_rate):
            rates.append(sample_rate)

    speech = SpeechOutput(assistant.tts, Recorder())
    speech.say("The first sentence is spoken by hibari.")
    while not speech.drained():
        time.sleep(0.01)
    done = threading.Event()
    threading.Thread(target=lambda: (assistant.set_voice(PIPER), done.set()), daemon=True).start()
    assert done.wait(60)
    speech.say("The second one by Piper.")
    speech.finish()
    assert rates == [24000, 22050]
    assert assistant.tts.name == PIPER


def test_window_settings_switch_the_voice_without_a_restart(small_settings, tmp_path):
    from assistant.config import apply_overrides
    from assistant.core import Assistant
    from ui.services import apply_live, needs_restart

    assistant = Assistant(small_settings)
    assert assistant.tts.name == "hibari-heart"
    piper = apply_overrides(small_settings, **{"tts.voice": PIPER})
    assert not needs_restart(small_settings, piper)  # no "restart Sori" notice for a voice
    assert apply_live(assistant, piper, tts_loaded=True) is None
    assert assistant.tts.name == PIPER and assistant.tts.sample_rate == 22050
    # A voice that cannot be used: the reason comes back and the current voice keeps speaking.
    missing = apply_overrides(piper, **{"tts.voice": "pocket:nobody"})
    problem = apply_live(assistant, missing, tts_loaded=True)
    assert problem and "no cloned voice named 'nobody'" in problem
    assert assistant.tts.name == PIPER


def test_models_install_takes_catalog_ids(sori):
    r = sori("models", "install", PIPER)  # a voice outside every profile
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"tts: {PIPER} already installed in {models.model_dir(PIPER)}"
    assert_clean_error(sori("models", "install", "no-such-voice"), "unknown model 'no-such-voice'")
