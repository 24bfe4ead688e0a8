"""Sinks: paced playback into a WAV with timestamps, stop() latency, NullSink pacing, SpeakerSink abort."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import types
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.clock import Clock
from assistant.audio.decode import decode_file
from assistant.audio.sinks import NullSink, SpeakerSink, WavFileSink
from assistant.audio.sources import ScriptedSource, ScriptItem
from assistant.audio.timed_sink import TimestampedWavSink


@pytest.fixture(scope="session")
def voice(tmp_path_factory) -> tuple[np.ndarray, int]:
    """About 3 s of real synthesized speech at espeak-ng's 22.05 kHz, like a TTS chunk."""
    path = tmp_path_factory.mktemp("voice") / "voice.wav"
    text = "Paris is the capital of France, and it is known for the Eiffel Tower."
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path)) as w:
        rate = w.getframerate()
    return decode_file(path, rate), rate


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767
        return data, w.getframerate()


def play_in_thread(sink, samples, rate) -> tuple[threading.Thread, list[float]]:
    returned: list[float] = []

    def run() -> None:
        sink.play(samples, rate)
        returned.append(time.monotonic())

    thread = threading.Thread(target=run)
    thread.start()
    return thread, returned


def test_stop_cuts_playback_within_50ms_and_keeps_only_what_played(tmp_path: Path, voice) -> None:
    samples, rate = voice
    out = tmp_path / "out.wav"
    clock = Clock()
    sink = TimestampedWavSink(out, clock)
    thread, returned = play_in_thread(sink, samples, rate)
    time.sleep(0.1)
    assert sink.is_playing
    expected_end = sink.played_until
    assert expected_end - clock.now() > 1.0  # while playing: when the chunk will end
    time.sleep(0.4)
    t_stop = time.monotonic()
    sink.stop()
    thread.join(1.0)
    latency = returned[0] - t_stop
    assert latency < 0.05, latency
    assert not sink.is_playing
    [chunk] = sink.chunks
    assert chunk.stopped and chunk.samples_total == len(samples)
    assert chunk.samples_played / rate == pytest.approx(0.5, abs=0.05)
    assert chunk.t_end - chunk.t_start == pytest.approx(chunk.samples_played / rate)
    assert chunk.t_end == pytest.approx(t_stop, abs=0.01)
    assert sink.played_until == chunk.t_end
    sink.close()
    data, file_rate = read_wav(out)
    assert file_rate == rate
    assert len(data) == chunk.samples_played  # the rest was dropped
    assert np.allclose(data, samples[: len(data)], atol=1 / 16_000)


def test_realtime_chunks_take_their_duration(tmp_path: Path, voice) -> None:
    samples, rate = voice
    piece = samples[: rate // 2]  # 0.5 s
    sink = TimestampedWavSink(tmp_path / "out.wav", Clock())
    t = time.monotonic()
    sink.play(piece, rate)
    sink.play(piece, rate)
    assert time.monotonic() - t == pytest.approx(1.0, abs=0.06)
    first, second = sink.chunks
    assert not first.stopped and first.samples_played == len(piece)
    assert first.t_end - first.t_start == pytest.approx(0.5)
    assert 0 <= second.t_start - first.t_end < 0.02  # back to back
    assert sink.seconds == pytest.approx(1.0)
    sink.close()
    assert len(read_wav(tmp_path / "out.wav")[0]) == 2 * len(piece)


def test_non_realtime_writes_at_once_with_nominal_times(tmp_path: Path, voice) -> None:
    samples, rate = voice
    clock = Clock()
    sink = TimestampedWavSink(tmp_path / "out.wav", clock, realtime=False)
    t = time.monotonic()
    sink.play(samples, rate)
    sink.play(samples, rate)
    assert time.monotonic() - t < 0.1
    first, second = sink.chunks
    assert second.t_start == pytest.approx(first.t_end)  # queued after the first, as on a speaker
    assert sink.played_until == pytest.approx(first.t_start + 2 * len(samples) / rate)
    assert sink.is_playing  # nominally still sounding
    sink.stop()
    assert not sink.is_playing
    sink.close()
    assert len(read_wav(tmp_path / "out.wav")[0]) == 2 * len(samples)


def test_playback_rms_reports_what_is_sounding(tmp_path: Path) -> None:
    rate = 16_000
    tone = (0.5 * np.sin(2 * np.pi * 300 * np.arange(rate) / rate)).astype(np.float32)
    clock = Clock()
    sink = TimestampedWavSink(tmp_path / "out.wav", clock, realtime=False)
    sink.play(tone, rate)
    t0 = sink.chunks[0].t_start
    assert sink.playback_rms(t0 + 0.2, t0 + 0.4) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    assert sink.playback_rms(t0 + 0.9, t0 + 1.1) == pytest.approx(0.5 / 2, rel=0.05)  # half silence
    assert sink.playback_rms(t0 + 1.5, t0 + 2.0) == 0.0
    sink.close()


def test_echo_hooks_feed_a_scripted_microphone(tmp_path: Path, voice, shared: Path) -> None:
    """The assistant's voice leaks into the microphone from when it starts to when it is stopped."""
    samples, rate = voice
    clock = Clock()
    mic = ScriptedSource([ScriptItem(shared / "eval" / "utterances" / "q02_time.wav")], clock=clock)
    sink = TimestampedWavSink(
        tmp_path / "out.wav",
        clock,
        on_play=lambda s, sr, t: mic.add_echo(s, t, 0.5, sr),
        on_stop=mic.cut_echo,
    )
    frames = []

    def listen() -> None:
        frames.extend(mic)

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.5)
    speaker, _ = play_in_thread(sink, samples, rate)
    time.sleep(1.0)
    sink.stop()
    speaker.join()
    listener.join()
    chunk = sink.chunks[0]
    heard = np.concatenate([f.samples for f in frames])
    q02 = decode_file(shared / "eval" / "utterances" / "q02_time.wav")
    echo = heard[: len(q02)] - q02
    echo = np.concatenate([echo, heard[len(q02) :]])

    def at(t: float) -> int:  # clock time -> sample index in what the microphone heard
        return round((t - mic.t0) * 16_000)

    assert chunk.stopped and chunk.t_end - chunk.t_start == pytest.approx(1.0, abs=0.05)
    assert np.abs(echo[: at(chunk.t_start - 0.02)]).max() < 1e-4  # nothing before the speaker started
    assert np.abs(echo[at(chunk.t_end + 0.02) :]).max() < 1e-4  # nothing after it was stopped
    during = echo[at(chunk.t_start + 0.1) : at(chunk.t_end - 0.1)]
    assert np.sqrt(np.mean(during**2)) > 0.02
    sink.close()


def test_null_sink_paces_optionally() -> None:
    chunk = np.zeros(32_000, np.float32)  # 2 s
    t = time.monotonic()
    NullSink().play(chunk, 16_000)
    assert time.monotonic() - t < 0.01  # default: discards at once, as before
    sink = NullSink(realtime=True)
    thread, returned = play_in_thread(sink, chunk, 16_000)
    time.sleep(0.3)
    t_stop = time.monotonic()
    sink.stop()
    thread.join(1.0)
    assert returned[0] - t_stop < 0.05
    t = time.monotonic()
    sink.play(chunk[:4000], 16_000)  # a stop() does not affect the next chunk
    assert time.monotonic() - t == pytest.approx(0.25, abs=0.04)


def test_wav_file_sink_keeps_its_first_rate(tmp_path: Path) -> None:
    """A voice switched in the middle of an answer: its sentences are resampled to the file's rate."""
    sink = WavFileSink(tmp_path / "a.wav")
    sink.play(np.zeros(1600, np.float32), 16_000)
    tone = np.sin(2 * np.pi * 440 * np.arange(2205) / 22_050).astype(np.float32)
    sink.play(tone, 22_050)
    sink.close()
    assert sink.seconds == pytest.approx(0.2, abs=0.001)
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert w.getframerate() == 16_000
        assert abs(w.getnframes() - 3200) <= 2
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    assert np.abs(audio[1700:]).max() > 10_000  # the second sentence is there, not silence


# --- SpeakerSink against a stand-in for sounddevice (no sound card here) ------------------------------


class _FakeOutput:
    """Plays for the audio's duration; stop() drains the device buffer (150 ms here), abort() does not."""

    BUFFER_S = 0.15

    def __init__(self, duration: float) -> None:
        self.ends = time.monotonic() + duration
        self.silent_at: float | None = None

    @property
    def active(self) -> bool:
        return self.silent_at is None and time.monotonic() < self.ends

    def abort(self, ignore_errors: bool = True) -> None:
        self.silent_at = self.silent_at or time.monotonic()

    def stop(self, ignore_errors: bool = True) -> None:
        self.silent_at = self.silent_at or time.monotonic() + self.BUFFER_S

    def close(self, ignore_errors: bool = True) -> None:
        self.abort()


def _fake_sd() -> types.SimpleNamespace:
    sd = types.SimpleNamespace(PortAudioError=RuntimeError, streams=[], kwargs=[])

    def play(samples, rate, **kwargs):
        sd.kwargs.append(kwargs)
        sd.streams.append(_FakeOutput(len(samples) / rate))

    def get_stream():
        if not sd.streams:
            raise RuntimeError("play()/rec()/playrec() was not called yet")
        return sd.streams[-1]

    def stop():
        if sd.streams:
            sd.streams[-1].stop()

    sd.play, sd.get_stream, sd.stop = play, get_stream, stop
    sd.query_devices = lambda device=None, kind=None: {"name": "fake speaker"}
    return sd


def test_speaker_stop_silences_within_50ms(monkeypatch) -> None:
    sd = _fake_sd()
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    sink = SpeakerSink()
    sink.stop()  # before anything was played: harmless
    thread, returned = play_in_thread(sink, np.zeros(48_000, np.float32), 24_000)
    time.sleep(0.3)
    t_stop = time.monotonic()
    sink.stop()
    thread.join(1.0)
    assert returned[0] - t_stop < 0.05
    assert sd.streams[0].silent_at - t_stop < 0.05  # aborted, not drained
    assert sd.kwargs[0]["latency"] == "low"
    t = time.monotonic()
    sink.play(np.zeros(4_800, np.float32), 24_000)  # the next chunk plays in full
    assert time.monotonic() - t == pytest.approx(0.2, abs=0.05)
    sink.close()
