"""Simulated rooms: a laptop on a table, its speaker next to its microphone, a user across the room.

A seeded scene generator on pyroomacoustics (image-source room impulse responses) for tests and
`sori bench echo`: rooms from a small office to a living room, reverberation from the room's absorption,
the speaker 5-50 cm from the microphone, 20-250 ms of playback delay (buffers the canceller is not told
about), a small speaker that loses the bass and soft-clips, fan noise 30-50 dB below the user's voice,
and the echo from 10 dB louder to 5 dB quieter than the user (signal-to-echo ratio -10..+5 dB).

RoomSource and RoomSink put the same room into the voice loop: what the sink plays comes back into the
source through the speaker and the room, mixed with the scripted user speech (heard through the room too).
"""

from __future__ import annotations

import math
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.decode import SAMPLE_RATE
from assistant.audio.sources import ScriptedSource, ScriptItem, speech_power
from assistant.audio.timed_sink import TimestampedWavSink
from assistant.errors import SoriError

USER_DBFS = -28.0  # the user's speech at the microphone (active level): an ordinary voice at arm's length
_TTS_DBFS = -20.0  # Piper's active speech level, roughly (the speaker volume is set against it)


class RoomUnavailable(SoriError):
    pass


def _pra():
    try:
        import pyroomacoustics
    except ImportError:
        raise RoomUnavailable(
            "simulated rooms need pyroomacoustics: .venv/bin/pip install 'pyroomacoustics==0.10.1' "
            "(or pip install 'sori[bench]')"
        ) from None
    return pyroomacoustics


@dataclass(frozen=True)
class RoomParams:
    seed: int
    size_m: tuple[float, float, float]
    rt60_s: float
    speaker_mic_m: float
    user_mic_m: float
    delay_ms: float  # speaker output later than the sink's timestamps say
    drive: float  # soft clipping: tanh(drive * x) / tanh(drive); 1 is nearly clean
    speaker_highpass_hz: float  # a laptop speaker plays no bass
    noise_snr_db: float  # fan noise below the user's speech level
    ser_db: float  # the user's level over the echo's (active speech levels at the microphone)


def random_params(seed: int) -> RoomParams:
    """One scene's room, the same for the same seed on every machine."""
    rng = np.random.default_rng(seed)
    t = rng.uniform()  # 0 = small office, 1 = living room
    size = (
        round(3.0 + 4.0 * t + rng.uniform(-0.3, 0.3), 2),
        round(2.5 + 2.5 * t + rng.uniform(-0.3, 0.3), 2),
        round(rng.uniform(2.4, 2.9), 2),
    )
    return RoomParams(
        seed=seed,
        size_m=size,
        rt60_s=round(rng.uniform(0.25, 0.7), 3),
        speaker_mic_m=round(rng.uniform(0.05, 0.5), 3),
        user_mic_m=round(rng.uniform(0.5, 1.5), 2),
        delay_ms=round(rng.uniform(20, 250), 1),
        drive=round(rng.uniform(1.0, 3.0), 2),
        speaker_highpass_hz=round(rng.uniform(150, 400)),
        noise_snr_db=round(rng.uniform(30, 50), 1),
        ser_db=round(rng.uniform(-10, 5), 1),
    )


def active_rms(samples: np.ndarray) -> float:
    """RMS over the 10 ms windows within 40 dB of the loudest: the level of the speech, pauses left out."""
    return speech_power(samples)[0] ** 0.5


def at_level(samples: np.ndarray, dbfs: float) -> np.ndarray:
    rms = active_rms(samples)
    if rms <= 0:
        return np.asarray(samples, np.float32)
    return (samples * (10 ** (dbfs / 20) / rms)).astype(np.float32)


class Room:
    """The impulse responses of one RoomParams, and the paths through them."""

    def __init__(self, params: RoomParams) -> None:
        pra = _pra()
        from scipy.signal import butter

        self.params = params
        rng = np.random.default_rng(params.seed + 1_000_003)
        lx, ly, lz = params.size_m
        absorption, max_order = pra.inverse_sabine(params.rt60_s, list(params.size_m))
        room = pra.ShoeBox(
            list(params.size_m),
            fs=SAMPLE_RATE,
            materials=pra.Material(absorption),
            max_order=min(max_order, 40),
        )
        # The laptop on a table away from the walls; its speaker beside the microphone, the user in front.
        mic = np.array([rng.uniform(0.8, lx - 0.8), rng.uniform(0.8, ly - 0.8), rng.uniform(0.75, 0.95)])
        angle = rng.uniform(0, 2 * math.pi)
        speaker = mic + params.speaker_mic_m * np.array([math.cos(angle), math.sin(angle), 0.0])
        facing = rng.uniform(0, 2 * math.pi)
        user = mic + params.user_mic_m * np.array([math.cos(facing), math.sin(facing), 0.0])
        user[2] = rng.uniform(1.1, 1.5)
        user[:2] = np.clip(user[:2], 0.3, [lx - 0.3, ly - 0.3])
        speaker[:2] = np.clip(speaker[:2], 0.2, [lx - 0.2, ly - 0.2])
        room.add_source(speaker.tolist())
        room.add_source(user.tolist())
        room.add_microphone(mic.tolist())
        room.compute_rir()
        # Unit energy: levels are set on the result (SER, SNR), the room sets the colour and the tail.
        self.rir_speaker = self._unit(room.rir[0][0])
        self.rir_user = self._unit(room.rir[0][1])
        self._hp = butter(2, params.speaker_highpass_hz, "highpass", fs=SAMPLE_RATE, output="sos")

    @staticmethod
    def _unit(rir: np.ndarray) -> np.ndarray:
        rir = np.asarray(rir, np.float64)
        return rir / math.sqrt(float(np.sum(np.square(rir))))

    def loudspeaker(self, dry: np.ndarray) -> np.ndarray:
        """What a small speaker makes of the signal: no bass, soft clipping when driven hard."""
        from scipy.signal import sosfilt

        drive = self.params.drive
        x = sosfilt(self._hp, np.asarray(dry, np.float64))
        return np.tanh(drive * x) / math.tanh(drive)

    def echo(self, dry: np.ndarray) -> np.ndarray:
        """The played signal as the microphone hears it: delayed, through the speaker and the room."""
        from scipy.signal import oaconvolve

        if len(dry) == 0:
            return np.zeros(0, np.float32)
        wet = oaconvolve(self.loudspeaker(dry), self.rir_speaker)
        lead = np.zeros(round(self.params.delay_ms * SAMPLE_RATE / 1000))
        return np.concatenate([lead, wet]).astype(np.float32)

    def voice(self, dry: np.ndarray) -> np.ndarray:
        """The user's speech at the microphone (same length as dry: the tail past its end is dropped)."""
        from scipy.signal import oaconvolve

        return oaconvolve(np.asarray(dry, np.float64), self.rir_user)[: len(dry)].astype(np.float32)

    def noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Fan noise: pink-ish broadband air noise plus the hum of the blades, at the scene's SNR."""
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        spectrum /= np.sqrt(np.maximum(f, 50.0))
        x = np.fft.irfft(spectrum, n)
        hum_hz = rng.uniform(90, 140)
        t = np.arange(n) / SAMPLE_RATE
        x = x / (np.std(x) + 1e-12) + 0.3 * np.sin(2 * math.pi * hum_hz * t + rng.uniform(0, 6.3))
        level = 10 ** ((USER_DBFS - self.params.noise_snr_db) / 20)
        return (x / (np.sqrt(np.mean(np.square(x))) + 1e-12) * level).astype(np.float32)


@dataclass
class Scene:
    """Sori speaks `far`; the user may speak `near` from near_at_s on. mic = echo + voice + noise."""

    room: Room
    far: np.ndarray  # what the sink plays (16 kHz): the canceller's reference
    echo_gain: float  # speaker volume x coupling: sets the echo's level at the microphone
    near: np.ndarray | None  # the user's clean recording
    near_at_s: float
    echo: np.ndarray
    voice: np.ndarray
    noise: np.ndarray

    @property
    def mic(self) -> np.ndarray:
        return (self.echo + self.voice + self.noise).astype(np.float32)

    def cut_far(self, t_s: float) -> None:
        """Playback stopped at t_s (barge-in): the echo after it is only the room's tail of what played."""
        echo = self.room.echo(self.far[: max(0, round(t_s * SAMPLE_RATE))])[: len(self.echo)]
        echo *= np.float32(self.echo_gain)
        self.echo = np.concatenate([echo, np.zeros(len(self.echo) - len(echo), np.float32)])


def make_scene(
    params: RoomParams, far: np.ndarray, near: np.ndarray | None = None, near_at_s: float = 0.0
) -> Scene:
    """Mix a scene at 16 kHz: the echo at USER_DBFS - ser_db, the user's voice at USER_DBFS."""
    room = Room(params)
    echo_dbfs = USER_DBFS - params.ser_db
    end = len(far) + round(0.5 * SAMPLE_RATE)
    if near is not None:
        end = max(end, round(near_at_s * SAMPLE_RATE) + len(near) + round(0.5 * SAMPLE_RATE))
    far = np.asarray(far, np.float32)
    echo = room.echo(far)
    gain = 10 ** (echo_dbfs / 20) / max(active_rms(echo), 1e-9)
    echo = _fit(echo * np.float32(gain), end)
    voice = np.zeros(end, np.float32)
    if near is not None:
        at = round(near_at_s * SAMPLE_RATE)
        voice[at : at + len(near)] = at_level(room.voice(near), USER_DBFS)[: end - at]
    noise = room.noise(end, np.random.default_rng(params.seed + 7))
    return Scene(room, far, gain, near, near_at_s, echo, voice, noise)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.concatenate([x, np.zeros(n - len(x), np.float32)])


class RoomSource(ScriptedSource):
    """A ScriptedSource heard through a room: the user's files through the user's path at USER_DBFS
    (times each item's gain), fan noise throughout, and add_echo() through the speaker path, with the
    played audio's level set so the echo sits ser_db below the user."""

    def __init__(self, items: Sequence[ScriptItem], params: RoomParams, **kwargs) -> None:
        super().__init__(items, **kwargs)
        self.room = Room(params)
        # The speaker's volume, fixed for the session: speech played at a typical TTS level reaches the
        # microphone ser_db below the user (calibrated on the first item, as speech, through this room).
        calibration = at_level(self._clips[0].samples, _TTS_DBFS) if self._clips else None
        heard = active_rms(self.room.echo(calibration)) if calibration is not None else 0.0
        target = 10 ** ((USER_DBFS - params.ser_db) / 20)
        self._echo_gain = target / heard if heard > 0 else target / 10 ** (_TTS_DBFS / 20)
        for clip in self._clips:
            gain = self.items[clip.item].gain
            clip.samples = at_level(self.room.voice(clip.samples), USER_DBFS) * np.float32(gain)
        self._noise = self.room.noise(SAMPLE_RATE * 10, np.random.default_rng(params.seed + 7))
        self._played: list[tuple[float, np.ndarray, object]] = []  # (t, dry, the clip) for cut_echo
        self._cut_lock = threading.Lock()

    def say(self, samples: np.ndarray, t_start: float, gain: float = 1.0) -> None:
        """The user speaks `samples` (16 kHz) from clock time t_start on, through the room, at USER_DBFS."""
        voice = at_level(self.room.voice(np.asarray(samples, np.float32)), USER_DBFS) * np.float32(gain)
        ScriptedSource.add_echo(self, voice, t_start)

    def add_echo(self, samples: np.ndarray, t_start: float, gain: float = 1.0, sample_rate: int = 16_000):
        """What the sink plays, heard through the speaker and the room."""
        audio = np.asarray(samples, np.float32)
        if sample_rate != SAMPLE_RATE:
            import soxr

            audio = soxr.resample(audio, sample_rate, SAMPLE_RATE).astype(np.float32)
        dry = audio * np.float32(gain)
        super().add_echo(self.room.echo(dry) * np.float32(self._echo_gain), t_start)
        with self._lock:
            clip = self._echo[-1]
        with self._cut_lock:
            self._played.append((t_start, dry, clip))

    def cut_echo(self, t: float) -> None:
        """Playback stopped at t: what had already left the speaker still rings in the room."""
        with self._cut_lock:
            played = list(self._played)
        for t_clock, dry, clip in played:
            keep = round((t - t_clock) * SAMPLE_RATE)
            if keep < len(dry):
                wet = self.room.echo(dry[: max(0, keep)]) * np.float32(self._echo_gain)
                with self._lock:
                    clip.samples = wet  # type: ignore[attr-defined]

    def _render(self, start: int, count: int) -> np.ndarray | None:
        block = super()._render(start, count)
        if block is None:
            return None
        idx = (np.arange(start, start + count)) % len(self._noise)
        return np.clip(block + self._noise[idx], -1.0, 1.0)


class RoomSink(TimestampedWavSink):
    """A sink that plays into a RoomSource's room (and into a WAV file, a temporary one by default)."""

    def __init__(self, source: RoomSource, path: str | Path | None = None, **kwargs) -> None:
        self._tmp = None
        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sori-room-")
            path = Path(self._tmp.name) / "played.wav"
        super().__init__(
            path,
            on_play=lambda samples, rate, t: source.add_echo(samples, t, sample_rate=rate),
            on_stop=source.cut_echo,
            **kwargs,
        )

    def close(self) -> None:
        super().close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
