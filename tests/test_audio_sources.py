"""Audio sources on real recordings: framing, pacing, conversion, scripts, echo, the microphone."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.clock import Clock
from assistant.audio.decode import decode_file
from assistant.audio.microphone import MicrophoneSource
from assistant.audio.sources import (
    AudioFrame,
    AudioInputUnavailable,
    FileSource,
    ScriptedSource,
    ScriptItem,
    speech_bounds,
)

SR = 16_000


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", "-R", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="session")
def utt(shared: Path) -> Path:
    return shared / "eval" / "utterances"


def collect(source) -> list[AudioFrame]:
    return list(source)


def joined(frames: list[AudioFrame]) -> np.ndarray:
    return np.concatenate([f.samples for f in frames])


def test_file_source_frames_are_fixed_size_and_monotonic(utt: Path) -> None:
    path = utt / "q01_capital.wav"
    frames = collect(FileSource(path, realtime=False))
    audio = decode_file(path)
    assert len(frames) == math.ceil(len(audio) / 320)
    assert all(f.samples.dtype == np.float32 and f.samples.shape == (320,) for f in frames)
    assert [f.index for f in frames] == list(range(len(frames)))
    starts = np.array([f.t_start for f in frames])
    assert np.allclose(np.diff(starts), 0.02)
    assert frames[0].t_end == pytest.approx(frames[1].t_start)
    out = joined(frames)
    assert np.array_equal(out[: len(audio)], audio)  # decoded once, cut without change
    assert not out[len(audio) :].any()  # the last frame is padded with silence


def test_file_source_frame_ms_and_silence_padding(utt: Path) -> None:
    path = utt / "q02_time.wav"
    audio = decode_file(path)
    frames = collect(FileSource(path, realtime=False, frame_ms=30, lead_silence_s=0.5, tail_silence_s=0.25))
    assert {len(f.samples) for f in frames} == {480}
    out = joined(frames)
    assert len(out) == math.ceil((len(audio) + 12_000) / 480) * 480
    assert not out[:8000].any()
    assert np.array_equal(out[8000 : 8000 + len(audio)], audio)
    with pytest.raises(ValueError, match="frame_ms"):
        FileSource(path, frame_ms=0)


def test_realtime_pacing_matches_duration(tmp_path: Path, utt: Path) -> None:
    two_s = tmp_path / "two.wav"
    sox(utt / "q04_rainbow.wav", two_s, "trim", "0", "2")
    clock = Clock()
    src = FileSource(two_s, clock=clock)
    t = time.monotonic()
    early = 0.0
    frames = []
    for f in src:
        early = max(early, f.t_end - clock.now())  # a live source cannot deliver a frame before it ends
        frames.append(f)
    paced = time.monotonic() - t
    assert len(frames) == 100
    assert 1.95 <= paced <= 2.3, paced
    assert early <= 0.001
    assert frames[0].t_start == pytest.approx(src.t0)

    t = time.monotonic()
    assert len(collect(FileSource(two_s, realtime=False))) == 100
    assert time.monotonic() - t < 1.0  # as fast as possible (mostly the decoder), not the 2 s of real time


def test_48k_stereo_is_converted_to_16k_mono(tmp_path: Path, utt: Path) -> None:
    src16 = utt / "q05_math.wav"
    stereo = tmp_path / "stereo48.wav"
    sox(src16, "-r", "48000", "-c", "2", stereo)
    ref = decode_file(src16)
    out = joined(collect(FileSource(stereo, realtime=False)))
    assert abs(len(out) - len(ref)) <= 320
    n = min(len(out), len(ref))
    corr = np.dot(out[:n], ref[:n]) / np.sqrt(np.dot(out[:n], out[:n]) * np.dot(ref[:n], ref[:n]))
    assert corr > 0.99


def test_jfk_flac_44k_stereo(shared: Path) -> None:
    frames = collect(FileSource(shared / "audio" / "jfk.flac", realtime=False))
    assert len(frames) == 550  # 11.0 s at 20 ms
    assert speech_bounds(joined(frames)) is not None


def test_close_from_another_thread_stops_a_paced_source(shared: Path) -> None:
    src = FileSource(shared / "audio" / "jfk.flac")
    threading.Timer(0.3, src.close).start()
    t = time.monotonic()
    frames = collect(src)
    assert time.monotonic() - t < 0.4
    assert 10 <= len(frames) <= 16
    with pytest.raises(RuntimeError, match="only once"):
        iter(src)


def test_scripted_gaps_and_spans(utt: Path) -> None:
    a, b = utt / "q01_capital.wav", utt / "q02_time.wav"
    src = ScriptedSource([ScriptItem(a), ScriptItem(b, gap_before_s=0.5, gain=0.5)], realtime=False)
    out = joined(collect(src))
    xa, xb = decode_file(a), decode_file(b)
    expected = np.concatenate([xa, np.zeros(8000, np.float32), xb * np.float32(0.5)])
    assert np.allclose(out[: len(expected)], expected, atol=1e-6)
    assert not out[len(expected) :].any()
    (s1, e1), (s2, e2) = src.speech_spans
    assert s1 == pytest.approx(src.t0)
    assert e1 - s1 == pytest.approx(len(xa) / SR)
    assert s2 - e1 == pytest.approx(0.5)
    assert src.item_offsets[1][0] == pytest.approx(len(xa) / SR + 0.5)
    # voice_spans: the speech inside each file (the file's own lead-in and trailing silence excluded)
    (v1s, v1e), (v2s, v2e) = src.voice_spans
    assert 0.25 < v1s - s1 < 0.45 and 0.9 < e1 - v1e < 1.4
    assert 0.25 < v2s - s2 < 0.45 and 0.9 < e2 - v2e < 1.4


def test_scripted_at_s_item_overlaps_and_mixes(utt: Path) -> None:
    a, b = utt / "q07_joke.wav", utt / "q03_timer.wav"
    src = ScriptedSource([ScriptItem(a, gain=0.5), ScriptItem(b, at_s=1.0, gain=0.5)], realtime=False)
    out = joined(collect(src))
    xa, xb = decode_file(a) * np.float32(0.5), decode_file(b) * np.float32(0.5)
    expected = np.zeros(SR + len(xb), np.float32)
    expected[: len(xa)] += xa
    expected[SR:] += xb
    assert np.allclose(out[: len(expected)], expected, atol=1e-6)
    (s1, e1), (s2, e2) = src.speech_spans
    assert s2 - s1 == pytest.approx(1.0)
    assert s2 < e1  # the second file started while the first was still playing


def test_add_echo_and_cut_echo(utt: Path) -> None:
    echo = decode_file(utt / "q08_weather.wav")
    src = ScriptedSource([ScriptItem(utt / "q01_capital.wav")], realtime=False)
    it = iter(src)
    next(it)  # the source has started: t0 is known
    src.add_echo(echo, src.t0 + 2.0, gain=0.25)
    src.cut_echo(src.t0 + 4.0)  # playback stopped 2 s into the echo
    out = np.concatenate([np.zeros(320, np.float32), *(f.samples for f in it)])
    # the source runs on past its script (3.05 s) to the end of the echo, and no further
    assert len(out) == pytest.approx(4.0 * SR, abs=320)
    q01 = decode_file(utt / "q01_capital.wav")
    expected = np.zeros(len(out), np.float32)
    expected[320 : len(q01)] += q01[320:]
    expected[2 * SR : 4 * SR] += echo[: 2 * SR] * np.float32(0.25)
    assert np.allclose(out, expected, atol=1e-6)


def test_echo_at_44k_is_resampled(utt: Path) -> None:
    src = ScriptedSource([ScriptItem(utt / "q02_time.wav")], realtime=False)  # silent after 1.7 s
    it = iter(src)
    next(it)
    tone = np.sin(2 * np.pi * 440 * np.arange(44_100) / 44_100).astype(np.float32)
    src.add_echo(tone, src.t0 + 1.8, gain=0.5, sample_rate=44_100)
    out = np.concatenate([np.zeros(320, np.float32), *(f.samples for f in it)])
    assert len(out) == pytest.approx(2.9 * SR, abs=320)  # the script outlasts the echo (2.8 s)
    window = out[2 * SR : 2 * SR + 8000]
    assert np.sqrt(np.mean(window**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
    spectrum = np.abs(np.fft.rfft(window))
    assert np.argmax(spectrum) * SR / len(window) == pytest.approx(440, abs=3)


def test_scripted_runs_until_closed_with_infinite_tail(utt: Path) -> None:
    src = ScriptedSource([ScriptItem(utt / "q02_time.wav")], realtime=False, tail_silence_s=math.inf)
    frames = []
    for f in src:
        frames.append(f)
        if len(frames) == 1000:  # 20 s: far past the 2.9 s script
            src.close()
    assert len(frames) == 1000
    assert not frames[-1].samples.any()


# --- microphone --------------------------------------------------------------------------------------


def test_no_microphone_is_a_one_line_error() -> None:
    with pytest.raises(AudioInputUnavailable) as err:
        MicrophoneSource(None)  # this machine has no sound card
    assert "no microphone found" in str(err.value)
    assert "continues in text" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(AudioInputUnavailable, match="no microphone found"):
        MicrophoneSource("no such device 1234")


class _FakePortAudioError(Exception):
    pass


def _fake_sounddevice(audio: np.ndarray, rate: int, *, unplug_after: int | None = None, busy=False):
    """A stand-in for sounddevice: its input stream calls back with `audio` in real time, like a device."""

    class InputStream:
        def __init__(self, *, samplerate, channels, blocksize, callback, finished_callback, **_):
            if busy:
                raise _FakePortAudioError("Device unavailable [PaErrorCode -9985]")
            assert samplerate == rate
            self.blocksize, self.callback, self.finished = blocksize, callback, finished_callback
            self.data = audio[:, :channels]
            self.halt = threading.Event()
            self.thread = threading.Thread(target=self._run, daemon=True)

        def start(self):
            self.thread.start()

        def _run(self):
            t0 = time.monotonic()
            for i, k in enumerate(range(0, len(self.data) - self.blocksize + 1, self.blocksize)):
                if unplug_after is not None and i == unplug_after:
                    self.finished()
                    return
                if self.halt.wait(max(0.0, t0 + (k + self.blocksize) / rate - time.monotonic())):
                    return
                self.callback(self.data[k : k + self.blocksize], self.blocksize, None, 0)

        def abort(self):
            self.halt.set()

        def close(self):
            self.halt.set()

    def query_devices(device=None, kind=None):
        return {"name": "fake mic", "max_input_channels": 2, "default_samplerate": float(rate)}

    return types.SimpleNamespace(
        InputStream=InputStream, query_devices=query_devices, PortAudioError=_FakePortAudioError
    )


@pytest.fixture
def mic_audio(tmp_path: Path, utt: Path) -> tuple[np.ndarray, np.ndarray]:
    """(1.2 s of speech as 48 kHz stereo float32, the same as 16 kHz mono)."""
    path = tmp_path / "mic48.wav"
    sox(utt / "q04_rainbow.wav", "-r", "48000", "-c", "2", path, "trim", "0.4", "1.2")
    left, right = decode_file(path, 48_000, split_stereo=True)
    return np.stack([left, right], axis=1), decode_file(path)


def test_microphone_resamples_48k_stereo_in_the_consumer(monkeypatch, mic_audio) -> None:
    audio48, ref16 = mic_audio
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(audio48, 48_000))
    clock = Clock()
    mic = MicrophoneSource("fake", clock=clock)
    t_open = clock.now()
    frames = collect_until_closed(mic, 55)
    assert all(f.samples.shape == (320,) and f.samples.dtype == np.float32 for f in frames)
    assert np.allclose(np.diff([f.t_start for f in frames]), 0.02, atol=1e-6)
    assert abs(frames[0].t_start - t_open) < 0.05
    out = joined(frames)
    # same signal, shifted by the resampler's delay at most a few ms
    n = len(out) - 160
    lags = range(0, 160)
    scores = [np.dot(out[lag : lag + n - 160], ref16[: n - 160]) for lag in lags]
    lag = int(np.argmax(scores))
    a, b = out[lag : lag + n - 160], ref16[: n - 160]
    assert lag < 80
    assert np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)) > 0.98


def collect_until_closed(mic: MicrophoneSource, count: int) -> list[AudioFrame]:
    """Take `count` frames, then close from another thread; the iteration must end promptly."""
    frames: list[AudioFrame] = []
    for f in mic:
        frames.append(f)
        if len(frames) == count:
            t = time.monotonic()
            threading.Thread(target=mic.close).start()
    assert time.monotonic() - t < 0.2
    return frames


def test_microphone_unplugged_mid_session(monkeypatch, mic_audio) -> None:
    audio48, _ = mic_audio
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(audio48, 48_000, unplug_after=10))
    frames = []
    with pytest.raises(AudioInputUnavailable, match="stopped delivering audio"):
        for f in MicrophoneSource(None):
            frames.append(f)
    assert 8 <= len(frames) <= 10


def test_busy_microphone(monkeypatch, mic_audio) -> None:
    audio48, _ = mic_audio
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(audio48, 48_000, busy=True))
    with pytest.raises(AudioInputUnavailable, match="cannot be opened.*continues in text"):
        MicrophoneSource(None)
