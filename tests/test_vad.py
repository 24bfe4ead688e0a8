"""End-of-turn detection on real speech, silence, noise and bursts (sources run unpaced: fast)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from assistant.audio.decode import decode_file
from assistant.audio.sources import FileSource, ScriptedSource, ScriptItem
from assistant.audio.vad import (
    EchoGate,
    SpeculativeEnd,
    SpeechStarted,
    TurnDetector,
    TurnEnded,
    VadConfig,
)
from assistant.audio.wav import write_wav

SR = 16_000
UTTERANCES = [
    f"q0{i}_{n}.wav"
    for i, n in enumerate(["capital", "time", "timer", "rainbow", "math", "note", "joke", "weather"], 1)
]


def sox(*args: str | Path) -> None:
    # -R: repeatable (fixed random seed), so the noise is the same in every run
    subprocess.run(["sox", "-R", *map(str, args)], check=True, capture_output=True)


def run(source, detector: TurnDetector | None = None, playback_rms=None) -> list:
    det = detector or TurnDetector()
    events = []
    for frame in source:
        rms = playback_rms(frame) if playback_rms else 0.0
        events += det.process(frame, rms)
    return events


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def true_speech(samples: np.ndarray) -> tuple[float, float]:
    """Start and end of the speech in a clean file: first and last sample above -60 dBFS."""
    loud = np.nonzero(np.abs(samples) > 1e-3)[0]
    return loud[0] / SR, (loud[-1] + 1) / SR


@pytest.fixture(scope="session")
def utt(shared: Path) -> Path:
    return shared / "eval" / "utterances"


@pytest.mark.parametrize("name", UTTERANCES)
def test_one_turn_per_utterance(utt: Path, name: str) -> None:
    path = utt / name
    src = FileSource(path, realtime=False, lead_silence_s=0.5)
    events = run(src)
    start, end = true_speech(decode_file(path))
    start, end = src.t0 + 0.5 + start, src.t0 + 0.5 + end
    started = [e for e in events if isinstance(e, SpeechStarted)]
    turns = [e for e in events if isinstance(e, TurnEnded)]
    assert len(started) == 1 and len(turns) == 1, kinds(events)
    turn = turns[0]
    assert abs(turn.t_speech_end - end) <= 0.15
    assert abs(started[0].t - start) <= 0.1
    assert started[0].t_decided - started[0].t >= 0.25  # min_speech_ms of speech heard first
    assert turn.t_decided - turn.t_speech_end == pytest.approx(0.7, abs=0.021)
    # the audio starts with the 300 ms pre-roll (so the first syllable is whole) ...
    assert turn.t_speech_start - turn.t_audio_start == pytest.approx(0.3, abs=1e-6)
    assert turn.t_speech_start == started[0].t
    offset = round((turn.t_audio_start - src.t0) * SR)
    assert np.array_equal(turn.audio, src.audio[offset : offset + len(turn.audio)])
    # ... and ends 100 ms after the speech
    assert len(turn.audio) / SR == pytest.approx(turn.t_speech_end + 0.1 - turn.t_audio_start, abs=1e-3)
    spec = [e for e in events if isinstance(e, SpeculativeEnd)][-1]
    assert spec.t - spec.t_speech_end == pytest.approx(0.2, abs=0.021)
    assert np.array_equal(spec.audio, turn.audio)  # nothing new was said after the speculative end


@pytest.fixture(scope="session")
def made(tmp_path_factory) -> Path:
    """Silence, noise and bursts made with sox."""
    d = tmp_path_factory.mktemp("made")
    sox("-n", "-r", "16000", "-c", "1", d / "silence.wav", "trim", "0", "10")
    for kind, vol in [
        ("whitenoise", "0.1"),
        ("whitenoise", "0.3"),
        ("pinknoise", "0.3"),
        ("brownnoise", "0.3"),
    ]:
        sox("-n", "-r", "16000", "-c", "1", d / f"{kind}{vol}.wav", "synth", "10", kind, "vol", vol)
    sox(
        "-n",
        "-r",
        "16000",
        "-c",
        "1",
        d / "burst.wav",
        "synth",
        "0.15",
        "whitenoise",
        "vol",
        "0.5",
        "pad",
        "1",
        "1",
    )
    sox(
        "-n", "-r", "16000", "-c", "1", d / "click.wav", "synth", "0.01", "square", "1000", "pad", "0", "0.19"
    )
    sox(d / "click.wav", d / "clicks.wav", "repeat", "14")  # 3 s of clicks, 5 a second (typing)
    return d


def test_silence_gives_no_events(made: Path) -> None:
    assert run(FileSource(made / "silence.wav", realtime=False)) == []


@pytest.mark.parametrize("name", ["whitenoise0.1", "whitenoise0.3", "pinknoise0.3", "brownnoise0.3"])
def test_steady_noise_is_not_speech(made: Path, name: str) -> None:
    events = run(FileSource(made / f"{name}.wav", realtime=False))
    assert not any(isinstance(e, (SpeechStarted, TurnEnded)) for e in events), kinds(events)


@pytest.mark.parametrize("lead_s", [1.0, 1.01])
def test_white_noise_starting_suddenly_is_not_speech(made: Path, lead_s: float) -> None:
    """Before the noise floor catches up, the onset's steady level (no syllables) keeps it out."""
    events = run(FileSource(made / "whitenoise0.3.wav", realtime=False, lead_silence_s=lead_s))
    assert not any(isinstance(e, (SpeechStarted, TurnEnded)) for e in events), kinds(events)


def test_webrtcvad_alone_would_take_noise_for_speech(made: Path) -> None:
    """Why the noise checks exist: without them the same noise starts a turn."""
    det = TurnDetector(VadConfig(noise_margin_db=0, min_modulation_db=0))
    events = run(FileSource(made / "whitenoise0.3.wav", realtime=False), det)
    assert any(isinstance(e, SpeechStarted) for e in events)


@pytest.mark.parametrize("name", ["burst", "clicks"])
def test_bursts_and_clicks_never_start_a_turn(made: Path, name: str) -> None:
    assert run(FileSource(made / f"{name}.wav", realtime=False)) == []


def test_150ms_of_speech_is_not_a_turn(tmp_path: Path, utt: Path) -> None:
    speech = decode_file(utt / "q04_rainbow.wav")
    path = tmp_path / "snippet.wav"
    write_wav(path, [np.zeros(SR, np.float32), speech[SR : SR + 2400], np.zeros(SR, np.float32)], SR)
    assert run(FileSource(path, realtime=False)) == []


def test_two_utterances_with_a_pause_are_two_turns(utt: Path) -> None:
    a, b = utt / "q01_capital.wav", utt / "q08_weather.wav"
    (_, end_a), (start_b, end_b) = true_speech(decode_file(a)), true_speech(decode_file(b))
    at_b = end_a + 1.5 - start_b  # 1.5 s from the end of the first speech to the start of the second
    src = ScriptedSource([ScriptItem(a), ScriptItem(b, at_s=at_b)], realtime=False)
    events = run(src)
    turns = [e for e in events if isinstance(e, TurnEnded)]
    assert kinds(events).count("SpeechStarted") == 2 and len(turns) == 2, kinds(events)
    assert turns[0].t_speech_end - src.t0 == pytest.approx(end_a, abs=0.15)
    assert turns[1].t_speech_end - src.t0 == pytest.approx(at_b + end_b, abs=0.15)
    # the second turn's pre-roll is the silence after the first
    assert turns[1].t_audio_start > turns[0].t_decided - 0.3


def test_300ms_pause_is_speculative_then_resumed(tmp_path: Path, utt: Path) -> None:
    a, b = decode_file(utt / "q02_time.wav"), decode_file(utt / "q05_math.wav")
    (_, ea), (sb, eb) = true_speech(a), true_speech(b)
    path = tmp_path / "pause.wav"
    write_wav(path, [a[: round(ea * SR)], np.zeros(round(0.3 * SR), np.float32), b[round(sb * SR) :]], SR)
    src = FileSource(path, realtime=False)
    events = run(src)
    assert kinds(events) == [
        "SpeechStarted",
        "SpeculativeEnd",
        "SpeechResumed",
        "SpeculativeEnd",
        "TurnEnded",
    ]
    _, spec, resumed, _, turn = events
    assert spec.t_speech_end - src.t0 == pytest.approx(ea, abs=0.05)
    assert resumed.t - src.t0 == pytest.approx(ea + 0.3, abs=0.05)
    assert len(spec.audio) < len(turn.audio)
    assert np.array_equal(turn.audio[: len(spec.audio)], spec.audio)
    assert turn.t_speech_end - src.t0 == pytest.approx(ea + 0.3 + eb - sb, abs=0.15)


def test_speech_in_moderate_noise(tmp_path: Path, utt: Path) -> None:
    speech = decode_file(utt / "q04_rainbow.wav")
    rng = np.random.default_rng(1)
    noisy = speech + rng.uniform(-0.03, 0.03, len(speech)).astype(np.float32)  # about -35 dBFS
    path = tmp_path / "noisy.wav"
    write_wav(path, [noisy], SR)
    src = FileSource(path, realtime=False)
    turns = [e for e in run(src) if isinstance(e, TurnEnded)]
    assert len(turns) == 1
    assert turns[0].t_speech_end - src.t0 == pytest.approx(true_speech(speech)[1], abs=0.15)


def test_frames_of_another_size_are_recut(utt: Path) -> None:
    path = utt / "q03_timer.wav"
    ref = [e for e in run(FileSource(path, realtime=False)) if isinstance(e, TurnEnded)]
    src = FileSource(path, realtime=False, frame_ms=30)
    got = [e for e in run(src) if isinstance(e, TurnEnded)]
    assert len(got) == len(ref) == 1
    assert np.array_equal(got[0].audio, ref[0].audio)


def test_reset_drops_the_turn_in_progress(utt: Path) -> None:
    det = TurnDetector()
    events = []
    for frame in FileSource(utt / "q01_capital.wav", realtime=False):
        events += det.process(frame)
        if frame.index == 50:  # 1 s in: mid-speech
            det.reset()
            t_reset = frame.t_end
    # the speech after the reset is a new turn, with nothing from before the reset in it
    assert kinds(events) == ["SpeechStarted", "SpeechStarted", "SpeculativeEnd", "TurnEnded"]
    assert events[1].t >= t_reset and events[-1].t_audio_start >= t_reset


def test_max_turn_length(shared: Path) -> None:
    det = TurnDetector(VadConfig(max_turn_s=3.0))
    turns = [
        e
        for e in run(FileSource(shared / "audio" / "jfk.flac", realtime=False), det)
        if isinstance(e, TurnEnded)
    ]
    assert turns
    assert all(t.t_decided - t.t_speech_start <= 3.0 + 1e-6 for t in turns)


def test_config_is_checked() -> None:
    with pytest.raises(ValidationError):
        VadConfig(aggressiveness=4)
    with pytest.raises(ValidationError, match="speculative_silence_ms"):
        VadConfig(speculative_silence_ms=800)
    with pytest.raises(ValidationError):
        VadConfig(frame_ms=25)


# --- the echo gate -----------------------------------------------------------------------------------


def _echo_session(utt: Path, user_gain: float | None, echo_gain: float):
    """The assistant says q07 (heard at echo_gain) from 0.5 s; the user (q01) may talk over it at 1.0 s."""
    items = [ScriptItem(utt / "q01_capital.wav", at_s=1.0, gain=user_gain)] if user_gain else []
    src = ScriptedSource(items, realtime=False, tail_silence_s=4.5)
    played = decode_file(utt / "q07_joke.wav")
    it = iter(src)
    first = next(it)
    t_play = src.t0 + 0.5
    src.add_echo(played, t_play, echo_gain)

    def reference(frame) -> float:  # what the speaker plays during this frame (the sink would say)
        lo = round((frame.t_start - t_play) * SR)
        seg = played[max(0, lo) : max(0, lo + len(frame.samples))]
        return float(np.sqrt(np.sum(seg.astype(np.float64) ** 2) / len(frame.samples)))

    frames = [first, *it]
    return frames, reference


def test_echo_gate_keeps_the_assistants_voice_from_starting_a_turn(utt: Path) -> None:
    frames, reference = _echo_session(utt, None, echo_gain=0.3)
    assert kinds(run(frames)).count("TurnEnded") == 1  # without a reference the echo is a "user turn"
    assert run(frames, TurnDetector(echo_gate=EchoGate(attenuation=0.3)), reference) == []


def test_echo_gate_lets_the_user_barge_in(utt: Path) -> None:
    frames, reference = _echo_session(utt, 1.0, echo_gain=0.1)
    det = TurnDetector(echo_gate=EchoGate(attenuation=0.1))
    events = run(frames, det, reference)
    assert kinds(events).count("SpeechStarted") == 1 and kinds(events).count("TurnEnded") == 1
    user_start, user_end = (1.0 + t for t in true_speech(decode_file(utt / "q01_capital.wav")))
    started = next(e for e in events if isinstance(e, SpeechStarted))
    assert started.t - frames[0].t_start == pytest.approx(user_start, abs=0.15)


def test_echo_gate_threshold() -> None:
    gate = EchoGate(attenuation=0.5, margin_db=6.0)
    assert gate.threshold_rms(0.2) == pytest.approx(0.2 * 0.5 * 1.995, rel=1e-3)
    quiet = np.full(320, 0.1, np.float32)
    assert gate.suppress(quiet, reference_rms=0.2)
    assert not gate.suppress(quiet * 3, reference_rms=0.2)
    assert not gate.suppress(quiet, reference_rms=0.0)  # nothing playing: nothing to suppress
