"""A microphone that is missing, unplugged and plugged back: the stream goes on, the user is told once.

No sound card here, so the device is a small stand-in that yields frames or fails the way MicrophoneSource
does (AudioInputUnavailable at open or mid-stream); what is tested is the retry and reporting logic.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from assistant.audio.reconnect import ReconnectingSource
from assistant.audio.sources import AudioFrame, AudioInputUnavailable, frame_samples


class Device:
    """Yields `frames` voiced 20 ms frames in real time, then fails as an unplugged device does."""

    name = "USB mic"

    def __init__(self, frames: int, fail_after: bool = True) -> None:
        self.frames = frames
        self.fail_after = fail_after
        self.closed = threading.Event()

    def __iter__(self):
        n = frame_samples(20)
        for i in range(self.frames):
            if self.closed.wait(0.02):
                return
            yield AudioFrame(np.full(n, 0.5, np.float32), time.monotonic(), i)
        if self.fail_after:
            raise AudioInputUnavailable("the microphone 'USB mic' stopped delivering audio (unplugged?)")
        self.closed.wait()

    def close(self) -> None:
        self.closed.set()


class Plug:
    """The device as the system sees it: absent for the first `absent` tries, then each try opens one."""

    def __init__(self, absent: int, devices: list[Device]) -> None:
        self.absent = absent
        self.devices = devices
        self.tries = 0

    def __call__(self) -> Device:
        self.tries += 1
        if self.tries <= self.absent or not self.devices:
            raise AudioInputUnavailable("no microphone found (no input device)")
        return self.devices.pop(0)


def collect(source: ReconnectingSource, frames: int) -> list[AudioFrame]:
    out = []
    for frame in source:
        out.append(frame)
        if len(out) >= frames:
            source.close()
    return out


def test_missing_at_start_then_plugged_in():
    status: list[tuple[bool, str]] = []
    device = Device(frames=10)
    plug = Plug(absent=2, devices=[device])
    source = ReconnectingSource(plug, lambda a, m: status.append((a, m)), retry_s=0.05)
    frames = collect(source, 40)
    voiced = [f for f in frames if f.samples.any()]
    # Silence while waiting, then the device's audio, in one numbered stream.
    assert frames[0].samples.any() == False  # noqa: E712 - numpy bool
    assert len(voiced) == 10
    assert [f.index for f in frames] == list(range(len(frames)))
    # Told once that it is missing (not at every retry), and once that it is back.
    assert status[:2] == [(False, "no microphone found (no input device)"), (True, "USB mic")]
    assert device.closed.is_set()


def test_unplugged_mid_stream_and_back():
    status: list[bool] = []
    plug = Plug(absent=0, devices=[Device(frames=5), Device(frames=5)])
    plug_fails = {"n": 0}

    def opener() -> Device:
        # After the first device fails, the system has no device for two tries.
        if plug.tries == 1 and plug_fails["n"] < 2:
            plug_fails["n"] += 1
            raise AudioInputUnavailable("no microphone found (no input device)")
        return plug()

    source = ReconnectingSource(opener, lambda a, m: status.append(a), retry_s=0.05)
    frames = collect(source, 40)
    assert sum(1 for f in frames if f.samples.any()) == 10
    assert status == [True, False, True, False]
    times = [f.t_start for f in frames]
    assert times == sorted(times)


def read_then_close(source: ReconnectingSource, seconds: float) -> list[AudioFrame]:
    """Iterate on another thread, close after `seconds`; the iteration must end promptly."""
    got: list[AudioFrame] = []
    reader = threading.Thread(target=lambda: got.extend(source))
    reader.start()
    time.sleep(seconds)
    source.close()
    reader.join(2.0)
    assert not reader.is_alive()
    return got


def test_close_ends_iteration_and_releases_the_device():
    device = Device(frames=10_000, fail_after=False)
    got = read_then_close(ReconnectingSource(Plug(absent=0, devices=[device]), retry_s=0.05), 0.3)
    assert got and device.closed.is_set()


def test_close_while_the_device_is_missing():
    got = read_then_close(ReconnectingSource(Plug(absent=10_000, devices=[]), retry_s=0.05), 0.2)
    assert got and not any(f.samples.any() for f in got)  # silence kept the loop going meanwhile
