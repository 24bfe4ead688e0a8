"""The microphone front end (WebRTC AEC3 + noise suppression) and the simulated rooms it is proven on.

Fast: short real recordings through seeded pyroomacoustics rooms, no models.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.decode import SAMPLE_RATE, decode_file
from assistant.audio.echo import EchoCanceller
from assistant.audio.frontend import PassThrough, ReferenceTimeline, WebRtcFrontEnd, make_front_end
from assistant.audio.room import USER_DBFS, RoomParams, active_rms, at_level, make_scene, random_params
from assistant.config import AudioSettings, load_settings
from assistant.errors import ConfigError

FRAME = 320


def db(x: np.ndarray) -> float:
    return 10 * np.log10(float(np.mean(np.square(x, dtype=np.float64))) + 1e-12)


@pytest.fixture(scope="module")
def far(shared: Path) -> np.ndarray:
    """Speech played by the speaker: three recorded questions back to back (about 7 s)."""
    utt = shared / "eval" / "utterances"
    names = ("q04_rainbow.wav", "q07_joke.wav", "q01_capital.wav")
    return np.concatenate([decode_file(utt / name) for name in names])


@pytest.fixture(scope="module")
def near(shared: Path) -> np.ndarray:
    return decode_file(shared / "eval" / "utterances" / "q08_weather.wav")


def stream(front_end, scene, t0: float = 500.0, denoised: bool = False) -> np.ndarray:
    """Frame by frame, as the voice loop does: the reference handed over as it starts playing.

    denoised: what the barge-in trigger hears (after noise suppression) instead of what Whisper does."""
    mic = scene.mic
    out = np.zeros_like(mic)
    for i in range(0, len(mic) - FRAME + 1, FRAME):
        t = t0 + i / SAMPLE_RATE
        front_end.played(scene.far[i : i + FRAME], t)
        cleaned = front_end.process(mic[i : i + FRAME], t)
        out[i : i + FRAME] = front_end.denoised if denoised else cleaned
    return out


LIVING_ROOM = RoomParams(
    seed=5,
    size_m=(6.5, 4.8, 2.7),
    rt60_s=0.6,
    speaker_mic_m=0.1,
    user_mic_m=1.2,
    delay_ms=180.0,
    drive=2.5,
    speaker_highpass_hz=300,
    noise_snr_db=35.0,
    ser_db=-10.0,  # the echo 10 dB louder than the user
)


def test_webrtc_removes_sori_s_echo_in_a_reverberant_room(far):
    scene = make_scene(LIVING_ROOM, far)
    out = stream(WebRtcFrontEnd(), scene)
    a, b = SAMPLE_RATE, len(far)  # after the first second (AEC3 converges) to the end of the speech
    erle = db(scene.echo[a:b]) - db(out[a:b])
    simple = stream(EchoCanceller(), make_scene(LIVING_ROOM, far))
    simple_erle = db(scene.echo[a:b]) - db(simple[a:b])
    assert erle >= 25.0, (erle, simple_erle)
    assert erle > simple_erle + 15  # a delayed, reverberant, clipped echo defeats the one-tap canceller


def test_the_user_talking_over_sori_is_kept_at_their_own_level(far, near):
    params = dataclasses.replace(LIVING_ROOM, ser_db=-5.0)
    at = 4.0
    scene = make_scene(params, far, near, near_at_s=at)
    out = stream(WebRtcFrontEnd(), scene)
    lo, hi = round(at * SAMPLE_RATE), round(at * SAMPLE_RATE) + len(near)
    kept = db(out[lo:hi]) - db(scene.voice[lo:hi])
    assert -6.0 < kept < 3.0, kept  # neither suppressed with the echo nor buried under it
    # What is left sounds like the user, not Sori: it follows the user's voice, not the echo.
    corr_user = abs(np.corrcoef(np.abs(out[lo:hi]), np.abs(scene.voice[lo:hi]))[0, 1])
    corr_echo = abs(np.corrcoef(np.abs(out[lo:hi]), np.abs(scene.echo[lo:hi]))[0, 1])
    assert corr_user > 2 * corr_echo, (corr_user, corr_echo)


def test_noise_suppression_turns_a_fan_down():
    params = dataclasses.replace(LIVING_ROOM, noise_snr_db=30.0)
    scene = make_scene(params, np.zeros(3 * SAMPLE_RATE, np.float32))  # nothing played: only the fan
    quiet = stream(WebRtcFrontEnd(echo_cancellation=False, noise_suppression=True), scene, denoised=True)
    raw = stream(WebRtcFrontEnd(echo_cancellation=False, noise_suppression=False), scene, denoised=True)
    half = len(quiet) // 2  # after the noise estimate has settled
    assert db(quiet[half:]) < db(raw[half:]) - 6, (db(quiet[half:]), db(raw[half:]))


def test_reference_timeline_places_played_audio_by_the_sink_s_clock():
    ref = ReferenceTimeline(history_s=30.0)
    chunk = np.arange(1, 8001, dtype=np.float32) / 8000  # 0.5 s
    ref.add(chunk, 10.0)
    assert np.array_equal(ref.window(10.25, 160), chunk[4000:4160])
    assert not ref.window(9.0, 160).any() and not ref.window(10.6, 160).any()
    ref.cut(10.3)  # stopped: what was queued after 10.3 never sounded
    assert not ref.window(10.3, 160).any() and ref.window(10.29, 160).any()
    ref.add(chunk, 10.4)  # the next answer starts before the cut chunk's planned end
    assert np.array_equal(ref.window(10.4, 160), chunk[:160])
    assert np.array_equal(ref.window(10.25, 160), chunk[4000:4160])  # the past is unchanged
    long = np.ones(20 * SAMPLE_RATE, np.float32)  # a chunk longer than a few seconds is kept whole
    ref.add(long, 20.0)
    assert ref.window(20.0, 160).all()


def test_settings_choose_the_stages(tmp_path):
    assert isinstance(make_front_end(AudioSettings()), WebRtcFrontEnd)
    off = AudioSettings(echo_cancellation=False, noise_suppression=False, gain_control=False)
    assert isinstance(make_front_end(off), PassThrough)
    frame = np.full(320, 0.1, np.float32)
    assert make_front_end(off).process(frame, 0.0) is frame
    cfg = tmp_path / "c.toml"
    cfg.write_text("[audio]\nnoise_suppression = false\n")
    audio = load_settings(cfg).audio
    assert (audio.echo_cancellation, audio.noise_suppression, audio.gain_control) == (True, False, False)
    cfg.write_text('[audio]\necho_cancellation = "loud"\n')
    with pytest.raises(ConfigError, match="echo_cancellation"):
        load_settings(cfg)


def test_rooms_are_seeded_and_within_the_ranges(far, near):
    assert random_params(7) == random_params(7) and random_params(7) != random_params(8)
    params = [random_params(s) for s in range(200)]
    for p in params:
        assert 0.05 <= p.speaker_mic_m <= 0.5 and 20 <= p.delay_ms <= 250
        assert 30 <= p.noise_snr_db <= 50 and -10 <= p.ser_db <= 5 and 0.25 <= p.rt60_s <= 0.7
        assert 2.7 <= p.size_m[0] <= 7.3
    sizes = sorted(p.size_m[0] * p.size_m[1] for p in params)
    assert sizes[0] < 10 and sizes[-1] > 30  # small offices to living rooms
    a, b = make_scene(params[3], far, near, 3.0), make_scene(params[3], far, near, 3.0)
    assert np.array_equal(a.mic, b.mic)
    # Levels as specified: the user at USER_DBFS, the echo ser_db below it.
    assert 20 * np.log10(active_rms(a.voice)) == pytest.approx(USER_DBFS, abs=0.5)
    assert 20 * np.log10(active_rms(a.echo)) == pytest.approx(USER_DBFS - params[3].ser_db, abs=0.5)
    # The echo arrives after the playback delay, not before.
    lead = round(params[3].delay_ms * SAMPLE_RATE / 1000)
    assert not a.echo[:lead].any() and a.echo[lead : lead + SAMPLE_RATE].any()


def test_settled_after_hearing_enough_of_sori(far):
    front = WebRtcFrontEnd()
    assert not front.settled
    silence = np.zeros(FRAME, np.float32)
    for i in range(0, 3 * SAMPLE_RATE, FRAME):  # silence played does not count
        front.played(silence, i / SAMPLE_RATE)
        front.process(silence, i / SAMPLE_RATE)
    assert not front.settled
    scene = make_scene(LIVING_ROOM, far)
    stream(front, scene, t0=10.0)
    assert front.settled
    assert not WebRtcFrontEnd(echo_cancellation=False).settled


def test_while_sori_speaks_only_the_trigger_lets_the_turn_detector_hear(near):
    from assistant.audio.bargein import OverSpeechGate
    from assistant.audio.sources import AudioFrame

    gate = OverSpeechGate()
    lead = np.full(SAMPLE_RATE, 10 ** (-70 / 20), np.float32)  # a second of quiet residual, then the user
    audio = np.concatenate([lead, near])
    starts = range(0, len(audio), FRAME)
    frames = [AudioFrame(audio[i : i + FRAME], i / SAMPLE_RATE, k) for k, i in enumerate(starts)]
    heard, fired_at = [], None
    for f in frames[: len(frames) - 1]:
        fired, out = gate.feed(f, speaking=True, settled=True)  # the canceller knows the room
        heard += out
        if fired and fired_at is None:
            fired_at = f.t_start
    onset = 1.0 + speech_bounds_start(near)
    assert fired_at is not None and onset < fired_at + 0.02 < onset + 0.3
    # Every frame reaches the detector exactly once, in order; the user's onset (held back) as it was.
    assert [f.index for f in heard] == list(range(len(heard)))
    onward = [f for f in heard if f.t_start >= onset - 0.3]  # pre-roll and the first syllables, intact
    assert onward and all(np.array_equal(f.samples, frames[f.index].samples) for f in onward)
    assert not any(f.samples.any() for f in heard if f.t_start < 0.5)  # residual well before: silence
    fired, out = gate.feed(frames[-1], speaking=False)  # Sori done: frames pass straight through
    assert not fired and out[-1] is frames[-1]


def speech_bounds_start(samples: np.ndarray) -> float:
    from assistant.audio.sources import speech_bounds

    return speech_bounds(samples)[0]


def test_with_headphones_the_user_is_heard_from_sori_s_first_second(far, near):
    """No echo at all: AEC3 would mute the user while it learns; the front end sees the microphone stay
    quiet while Sori speaks and passes the user through."""
    rng = np.random.default_rng(0)
    mic = (rng.standard_normal(len(far)) * 10 ** (-65 / 20)).astype(np.float32)  # a quiet room
    at = SAMPLE_RATE  # the user starts a second into Sori's answer
    mic[at : at + len(near)] += near[: len(mic) - at]
    scene = type("S", (), {"far": far, "mic": mic})()
    front = WebRtcFrontEnd()
    out = stream(front, scene)
    lo, hi = at, min(len(mic), at + len(near))
    assert front.presence.absent and not front.presence.found
    assert db(out[lo:hi]) > db(mic[lo:hi]) - 3, (db(out[lo:hi]), db(mic[lo:hi]))
    # On a laptop's speaker the echo is found at once and the canceller's output is used.
    speaker = WebRtcFrontEnd()
    stream(speaker, make_scene(LIVING_ROOM, far))
    assert speaker.presence.found and not speaker.presence.absent


def run_gate(front_end, scene, t0: float = 500.0) -> list[float]:
    """Times (s into the scene) at which the voice loop's gate fires, fed as the loop feeds it."""
    from assistant.audio.bargein import OverSpeechGate
    from assistant.audio.sources import AudioFrame

    gate = OverSpeechGate()
    mic = scene.mic
    fired_at = []
    for i in range(0, len(mic) - FRAME + 1, FRAME):
        t = t0 + i / SAMPLE_RATE
        front_end.played(scene.far[i : i + FRAME], t)
        frame = AudioFrame(front_end.process(mic[i : i + FRAME], t), t, i // FRAME)
        quiet, settled, learning = front_end.denoised, front_end.settled, front_end.learning
        fired, _ = gate.feed(frame, True, settled, quiet, learning, near_end=front_end.near_end)
        if fired:
            fired_at.append(i / SAMPLE_RATE)
    return fired_at


def test_the_echo_bound_finds_the_playback_delay_and_tells_the_user_from_sori(far, near):
    """The front end's own model of the echo: the delay the sink did not report, and near-end evidence
    that is low on Sori's echo alone and high where the user speaks after she stops."""
    from assistant.audio.echo_model import HOP, EchoBound

    scene = make_scene(LIVING_ROOM, far)
    pause = np.zeros(SAMPLE_RATE, np.float32)
    user = at_level(near, USER_DBFS)
    ref = np.concatenate([scene.far, np.zeros(len(scene.mic) - len(scene.far) + len(pause) + len(user))])
    mic = np.concatenate([scene.mic, pause, user]) + np.resize(scene.noise, len(ref))
    bound = EchoBound()
    scores = []
    for i in range(0, len(ref) - HOP + 1, HOP):
        r = ref[i : i + HOP]
        scores.append(bound.update(r, mic[i : i + HOP], float(np.max(np.abs(r))) > 1e-3))
    assert bound.delay is not None and abs(bound.delay * 10 - LIVING_ROOM.delay_ms) <= 20, bound.delay
    # Sori's echo well above the room's noise, once the model knows her (only sound is ever judged).
    level = [active_rms(scene.echo[i : i + HOP]) for i in range(0, len(far), HOP)]
    loud = 10 * active_rms(scene.noise)
    echo_only = [s for k, s in enumerate(scores[300 : len(level)], 300) if s is not None and level[k] > loud]
    speech = np.flatnonzero(np.abs(user) > 0.01)
    users = [s for s in scores[(len(ref) - len(user) + speech[0]) // HOP :] if s is not None]
    assert echo_only and np.mean(echo_only) < 0.1, np.mean(echo_only)
    assert users and np.median(users) > 0.8, np.median(users)


def test_only_the_user_fires_the_gate_over_sori_s_echo(far, near):
    """Sori 5-10 dB louder than the user in a reverberant room: her echo alone never interrupts her,
    over the whole answer; the user talking over her does, soon after their first word where Sori is
    5 dB louder, within what they say where she is 10 dB louder (AEC3 mutes them under her words)."""
    from assistant.audio.sources import speech_bounds

    at = 4.0
    onset, end = (at + t for t in speech_bounds(near))
    for ser, within in ((-10.0, end - onset), (-5.0, 0.3)):
        params = dataclasses.replace(LIVING_ROOM, ser_db=ser)
        assert run_gate(WebRtcFrontEnd(), make_scene(params, far)) == []
        fired = run_gate(WebRtcFrontEnd(), make_scene(params, far, near, near_at_s=at))
        assert fired and onset < fired[0] + 0.04 < onset + within, (ser, fired, onset)


def test_the_trigger_weighs_the_front_end_s_evidence(near):
    """The same speech, told by the front end to be Sori's echo, the user, or unknown."""
    from assistant.audio.bargein import OverSpeechGate
    from assistant.audio.sources import AudioFrame

    starts = range(0, len(near) - FRAME, FRAME)
    frames = [AudioFrame(near[i : i + FRAME], i / SAMPLE_RATE, k) for k, i in enumerate(starts)]

    def first_fire(near_end, settled=True, deaf=False):
        gate = OverSpeechGate()
        for f in frames:
            if gate.feed(f, True, settled, None, deaf, near_end=near_end)[0]:
                return f.t_start
        return None

    legacy, user, echo = first_fire(None), first_fire(0.9), first_fire(0.0)
    assert legacy is not None and user is not None and user <= legacy - 0.06  # 20 ms of speech, not 80
    assert echo is None  # a burst of leftover echo: speech-like, but nothing the echo cannot explain
    # While the canceller learns the room: nothing without evidence, only a run backed nearly throughout.
    assert first_fire(None, settled=False, deaf=True) is None
    assert first_fire(0.6, settled=False, deaf=True) is None
    assert first_fire(0.9, settled=False, deaf=True) == legacy


def test_a_burst_of_leftover_echo_does_not_interrupt_sori(far):
    """In this room AEC3, long converged, lets 100 ms of Sori's voice through mid-answer as loud as a user,
    and webrtcvad calls it speech: the trigger without the front end's evidence fires on it, with it not."""
    from assistant.audio.bargein import OverSpeechGate
    from assistant.audio.sources import AudioFrame

    scene = make_scene(random_params(14034), far)  # Sori 8 dB louder than a user would be
    front = WebRtcFrontEnd()
    blind, told = OverSpeechGate(), OverSpeechGate()
    fired_blind, fired_told = [], []
    for i in range(0, len(scene.mic) - FRAME + 1, FRAME):
        t = 500.0 + i / SAMPLE_RATE
        front.played(scene.far[i : i + FRAME], t)
        frame = AudioFrame(front.process(scene.mic[i : i + FRAME], t), t, i // FRAME)
        state = (front.settled, front.denoised, front.learning)
        if blind.feed(frame, True, *state)[0]:
            fired_blind.append(i / SAMPLE_RATE)
        if told.feed(frame, True, *state, near_end=front.near_end)[0]:
            fired_told.append(i / SAMPLE_RATE)
    assert fired_blind and all(t > 5.0 for t in fired_blind), fired_blind  # the canceller had converged
    assert fired_told == []


def test_a_delay_the_sink_does_not_report_is_found_early_in_sori_s_first_answer(far):
    """A speaker that buffers 180 ms the sink does not know of (a Bluetooth speaker, a USB dock): the
    front end finds the delay early in Sori's first answer, though the microphone had been open for half a
    minute, and its canceller is started again told it."""
    quiet_s = 30.0
    played = np.concatenate([np.zeros(round(quiet_s * SAMPLE_RATE), np.float32), far])
    scene = make_scene(LIVING_ROOM, played)
    front = WebRtcFrontEnd()
    found_at = None
    for i in range(0, len(scene.mic) - FRAME + 1, FRAME):
        t = i / SAMPLE_RATE
        front.played(scene.far[i : i + FRAME], t)
        front.process(scene.mic[i : i + FRAME], t)
        if front.found_delay_ms is not None:
            found_at = t - quiet_s - speech_bounds_start(far)
            break
    assert found_at is not None and found_at < 1.5, found_at  # seconds into Sori's voice
    assert abs(front.found_delay_ms - LIVING_ROOM.delay_ms) <= 20, front.found_delay_ms


@pytest.mark.slow
def test_sori_s_first_answer_is_cancelled_as_if_the_delay_were_known():
    """Rooms with 230 ms of playback delay nobody reported: the canceller restarted on the delay the front
    end found removes as much of the default voice's first answer as one told the true delay from the
    start, and clearly more than AEC3 left to find it by itself."""
    from assistant import models
    from assistant.audio.echo import to_16k
    from assistant.cli.bench_echo import ANSWERS
    from assistant.tts.hibari import HibariTTS

    hibari = HibariTTS(models.resolve("tts", "hibari-heart", "small"))  # its own: nothing else changed it
    for seed, answer in ((14005, ANSWERS[5]), (14015, ANSWERS[3])):  # `sori bench echo` rooms, its answers
        params = random_params(seed)
        voice = np.concatenate([to_16k(c.samples, c.sample_rate) for c in hibari.synthesize(answer)])
        voice = at_level(voice, -20.0)  # as Sori plays it ([tts] loudness_dbfs)
        played = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), voice])
        lo, hi = 2 * SAMPLE_RATE, len(played)  # from the answer's second second to its end
        erle = {}
        for name, front in (
            ("found", WebRtcFrontEnd()),
            ("told", WebRtcFrontEnd(output_latency_s=lambda delay=params.delay_ms: delay / 1000)),
            ("alone", WebRtcFrontEnd(find_delay=False)),
        ):
            scene = make_scene(params, played)
            out = stream(front, scene)
            erle[name] = db(scene.echo[lo:hi]) - db(out[lo:hi])
        assert erle["found"] >= erle["told"] - 1.0, (seed, erle)
        assert erle["found"] >= erle["alone"] + 6.0, (seed, erle)


def test_a_loud_frame_the_echo_cannot_explain_interrupts_at_once(near):
    """Once the canceller has converged, a frame of speech as loud as a user's voice that the echo cannot
    explain fires the trigger on its own (20 ms sooner); a quieter one, like the bursts of leftover echo
    that pass, needs a second frame; a frame the echo explains never fires it."""
    import webrtcvad

    from assistant.audio.bargein import BargeInTrigger

    vad = webrtcvad.Vad(3)
    pcm = (near * 32767).astype("<i2")
    start = next(
        i
        for i in range(0, len(near) - FRAME, FRAME)
        if db(near[i : i + FRAME]) > -45 and vad.is_speech(pcm[i : i + FRAME].tobytes(), SAMPLE_RATE)
    )
    frame = near[start : start + FRAME]

    def frames_to_fire(level_dbfs: float, near_end: float) -> int | None:
        trigger = BargeInTrigger()
        scaled = frame * np.float32(10 ** ((level_dbfs - db(frame)) / 20))
        for k in range(1, 4):
            if trigger.hears(scaled, k * 0.02, settled=True, near_end=near_end):
                return k
        return None

    assert frames_to_fire(-30.0, 0.9) == 1
    assert frames_to_fire(-38.0, 0.9) == 2
    assert frames_to_fire(-30.0, 0.0) is None
