"""End-of-turn detection: a pure state machine over AudioFrames (no threads, no clock of its own).

A frame counts as speech only if all of these hold:
- webrtcvad (at `aggressiveness`) calls it speech;
- its level is at least `energy_floor_dbfs` (drops webrtcvad's ~100 ms hangover after the last word in
  a quiet room, so the end of speech is placed within a frame or two);
- its level above 300 Hz is `noise_margin_db` above the noise floor, the quietest such level of the last
  `noise_window_ms` (digital silence left out). webrtcvad calls loud steady noise (a fan, white noise at
  -20 dBFS) speech in every frame; speech rises and falls by 20 dB or more between syllables, steady
  noise does not. Rumble below 300 Hz (brown noise, traffic) is left out: it swings by 10 dB per frame;
- the EchoGate, given the level of what the assistant is playing, does not attribute it to echo.

The noise floor needs `noise_window_ms` to catch up with a noise that starts suddenly; meanwhile a turn
only starts if the level of its first frames varies (std over frames of at least `min_modulation_db`):
speech does by several dB, steady noise by well under one.

A turn starts (SpeechStarted) once `min_speech_ms` of speech frames fall within a window of
min_speech_ms / min_speech_fraction, so coughs, clicks and short bursts never start one. It ends
(TurnEnded) after `end_silence_ms` without speech, or when it reaches `max_turn_s`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assistant.audio.decode import SAMPLE_RATE
from assistant.audio.sources import AudioFrame


class VadConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    aggressiveness: int = Field(2, ge=0, le=3, description="webrtcvad mode, 0 (lenient) .. 3 (strict)")
    frame_ms: Literal[10, 20, 30] = Field(20, description="analysis frame; webrtcvad takes 10, 20 or 30")
    pre_roll_ms: int = Field(300, ge=0, description="audio kept before the first speech frame")
    min_speech_ms: int = Field(250, ge=0, description="speech needed before a turn starts")
    min_speech_fraction: float = Field(0.6, gt=0, le=1, description="of the window it must fill")
    end_silence_ms: int = Field(700, gt=0, description="silence that ends a turn")
    speculative_silence_ms: int = Field(200, gt=0, description="silence that starts early transcription")
    energy_floor_dbfs: float = Field(-50.0, le=0, description="quieter frames are never speech")
    noise_margin_db: float = Field(6.0, ge=0, description="speech must be this far above the noise floor")
    noise_window_ms: int = Field(2000, ge=100, description="how far back the noise floor looks")
    min_modulation_db: float = Field(1.0, ge=0, description="level spread (std) a turn's onset needs")
    trailing_ms: int = Field(100, ge=0, description="silence kept after the speech in a turn's audio")
    max_turn_s: float = Field(30.0, gt=0, description="a turn this long is ended (runaway noise)")

    @model_validator(mode="after")
    def _check_silences(self) -> VadConfig:
        if self.speculative_silence_ms >= self.end_silence_ms:
            raise ValueError("speculative_silence_ms must be shorter than end_silence_ms")
        return self


@dataclass(frozen=True)
class SpeechStarted:
    t: float  # start of the first speech frame
    t_decided: float  # when enough speech had been heard to say so


@dataclass(frozen=True, eq=False)
class SpeculativeEnd:
    t: float  # when the silence reached speculative_silence_ms
    audio: np.ndarray  # the turn so far: pre-roll + speech + up to trailing_ms
    t_speech_end: float
    t_audio_start: float = math.nan  # clock time of audio[0]


@dataclass(frozen=True)
class SpeechResumed:
    t: float  # start of the speech that came back; work started on the SpeculativeEnd is stale


@dataclass(frozen=True, eq=False)
class TurnEnded:
    t_speech_end: float  # end of the last speech frame
    t_decided: float  # when the silence reached end_silence_ms
    audio: np.ndarray  # pre-roll + speech + up to trailing_ms of silence
    t_speech_start: float = math.nan
    t_audio_start: float = math.nan  # clock time of audio[0]


VadEvent = SpeechStarted | SpeculativeEnd | SpeechResumed | TurnEnded


def frame_dbfs(samples: np.ndarray) -> float:
    """Level relative to a full-scale square wave (RMS 1.0)."""
    return 10.0 * math.log10(float(np.mean(np.square(samples, dtype=np.float64))) + 1e-12)


@dataclass(frozen=True)
class EchoGate:
    """Treats a frame as the assistant's own voice unless it is clearly louder than the expected echo.

    expected echo RMS = reference_rms (what the speaker plays now) x attenuation (speaker-to-microphone
    coupling, measured or guessed); a frame must exceed it by margin_db to count as the user. Energy only:
    the user talking over the assistant is heard when louder than its echo, which is the common case.
    """

    attenuation: float = 0.3
    margin_db: float = 6.0

    def threshold_rms(self, reference_rms: float) -> float:
        return reference_rms * self.attenuation * 10 ** (self.margin_db / 20)

    def suppress(self, frame: AudioFrame | np.ndarray, reference_rms: float) -> bool:
        if reference_rms <= 0:
            return False
        samples = frame.samples if isinstance(frame, AudioFrame) else frame
        rms = math.sqrt(float(np.mean(np.square(samples, dtype=np.float64))))
        return rms < self.threshold_rms(reference_rms)


BAND_LOW_HZ = 300  # the noise-floor check looks at the band above this
_DIGITAL_SILENCE_DBFS = -100.0  # below 16-bit quantization noise: zeros, not a microphone
# Frame times are sums on a clock that has run for hours: 150 frames of 20 ms can differ by 2.9999999999964 s,
# and a turn limit compared exactly would end the turn a frame late.
_TIME_EPS_S = 1e-6
_IDLE, _PENDING, _SPEAKING = "idle", "pending", "speaking"


class TurnDetector:
    """Feed frames in order with process(); act on the events it returns."""

    def __init__(self, config: VadConfig | None = None, echo_gate: EchoGate | None = None) -> None:
        import webrtcvad

        self.config = config or VadConfig()
        self.echo_gate = echo_gate or EchoGate()
        self._vad = webrtcvad.Vad(self.config.aggressiveness)
        self._n = SAMPLE_RATE * self.config.frame_ms // 1000
        self._levels: deque[float] = deque(maxlen=max(1, self.config.noise_window_ms // self.config.frame_ms))
        self._window = max(
            1, math.ceil(self.config.min_speech_ms / self.config.min_speech_fraction / self.config.frame_ms)
        )
        self._hann = np.hanning(self._n).astype(np.float32)
        # Parseval: full-band power of a windowed frame, so band levels read like frame_dbfs
        self._hann_power = float(np.sum(np.square(self._hann))) * self._n / 2
        self._band_lo = math.ceil(BAND_LOW_HZ * self._n / SAMPLE_RATE)
        self._min_frames = max(1, math.ceil(self.config.min_speech_ms / self.config.frame_ms))
        self._bright = -math.inf  # band level of the frame being decided
        self.reset()

    def reset(self) -> None:
        """Forget any turn in progress (the noise floor and webrtcvad's adaptation are kept)."""
        self._state = _IDLE
        self._carry = np.zeros(0, np.float32)
        self._ring: deque[tuple[float, np.ndarray]] = deque(
            maxlen=self.config.pre_roll_ms // self.config.frame_ms
        )
        self._cand: deque[tuple[float, np.ndarray, bool, float]] = deque()  # t, samples, voiced, level
        self._turn: list[np.ndarray] = []
        self._t_audio_start = self._t_speech_start = self._t_last_voice = 0.0
        self._speculated = False
        self._prev_voiced = False

    def is_speech(self, samples: np.ndarray, playback_rms: float = 0.0) -> bool:
        """The per-frame decision (see the module docstring); updates the noise floor."""
        level = frame_dbfs(samples)
        bright = self._band_dbfs(samples)
        self._bright = bright
        # Digital silence (a muted or echo-cancelled frame) says nothing about the room's noise: left out,
        # it cannot drag the floor down and let the real noise pass for speech afterwards.
        if level > _DIGITAL_SILENCE_DBFS:
            self._levels.append(bright)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        voiced = self._vad.is_speech(pcm, SAMPLE_RATE)  # always called: webrtcvad adapts on every frame
        return (
            voiced
            and level >= self.config.energy_floor_dbfs
            and bright >= min(self._levels, default=-math.inf) + self.config.noise_margin_db
            and not self.echo_gate.suppress(samples, playback_rms)
        )

    def _band_dbfs(self, samples: np.ndarray) -> float:
        """Level above BAND_LOW_HZ: rumble (traffic, brown noise) swings by 10 dB or more between frames
        below it and would pass for speech; speech keeps most of its energy above it."""
        spectrum = np.fft.rfft(samples * self._hann)
        power = float(np.sum(np.square(np.abs(spectrum[self._band_lo :]))))
        return 10.0 * math.log10(power / self._hann_power + 1e-12)

    def process(self, frame: AudioFrame, playback_rms: float = 0.0) -> list[VadEvent]:
        """Events caused by this frame. playback_rms: level of the assistant's audio now (0 = silent)."""
        buf = np.concatenate([self._carry, frame.samples]) if len(self._carry) else frame.samples
        t = frame.t_start - len(self._carry) / SAMPLE_RATE
        events: list[VadEvent] = []
        whole = len(buf) - len(buf) % self._n
        for i in range(0, whole, self._n):  # frames of any size are cut to the analysis frame
            chunk = np.ascontiguousarray(buf[i : i + self._n], np.float32)
            events += self._step(t + i / SAMPLE_RATE, chunk, self.is_speech(chunk, playback_rms))
        self._carry = np.array(buf[whole:], np.float32)
        return events

    def _step(self, t: float, samples: np.ndarray, voiced: bool) -> list[VadEvent]:
        t_end = t + self._n / SAMPLE_RATE
        if self._state == _IDLE:
            if not voiced:
                self._ring.append((t, samples))
                return []
            self._state = _PENDING
            self._cand.clear()
        if self._state == _PENDING:
            return self._pending(t, t_end, samples, voiced)
        return self._speaking(t, t_end, samples, voiced)

    def _pending(self, t: float, t_end: float, samples: np.ndarray, voiced: bool) -> list[VadEvent]:
        self._cand.append((t, samples, voiced, self._bright))
        # Keep the candidate within the window and starting on a speech frame; older audio is pre-roll.
        while self._cand and (not self._cand[0][2] or len(self._cand) > self._window):
            head = self._cand.popleft()
            self._ring.append(head[:2])
        if not self._cand:
            self._state = _IDLE
            return []
        if not voiced or sum(c[2] for c in self._cand) < self._min_frames:
            return []
        # Speech rises and falls between syllables; a noise that starts suddenly (a fan, a tap) is steady.
        # (The first frame is left out: a sound that starts mid-frame makes it look quieter.)
        if np.std([c[3] for c in list(self._cand)[1:]]) < self.config.min_modulation_db:
            return []
        self._state = _SPEAKING
        self._t_audio_start = self._ring[0][0] if self._ring else self._cand[0][0]
        self._t_speech_start = self._cand[0][0]
        self._turn = [s for _, s in self._ring] + [c[1] for c in self._cand]
        self._ring.clear()
        self._cand.clear()
        self._t_last_voice = t_end
        self._speculated = False
        self._prev_voiced = True
        return [SpeechStarted(self._t_speech_start, t_end)]

    def _speaking(self, t: float, t_end: float, samples: np.ndarray, voiced: bool) -> list[VadEvent]:
        cfg = self.config
        self._turn.append(samples)
        events: list[VadEvent] = []
        # After a SpeculativeEnd one stray frame (a click) is not enough to call the speech resumed.
        counts = voiced and (not self._speculated or self._prev_voiced)
        self._prev_voiced = voiced
        if counts:
            if self._speculated:
                events.append(SpeechResumed(t - self._n / SAMPLE_RATE))  # the previous frame began it
                self._speculated = False
            self._t_last_voice = t_end
        silence_ms = (t_end - self._t_last_voice) * 1000
        if not self._speculated and silence_ms >= cfg.speculative_silence_ms:
            self._speculated = True
            events.append(SpeculativeEnd(t_end, self._audio(), self._t_last_voice, self._t_audio_start))
        turn_s = t_end - self._t_speech_start
        if silence_ms >= cfg.end_silence_ms or turn_s >= cfg.max_turn_s - _TIME_EPS_S:
            events.append(
                TurnEnded(self._t_last_voice, t_end, self._audio(), self._t_speech_start, self._t_audio_start)
            )
            tail = self._turn[-self._ring.maxlen :] if self._ring.maxlen else []
            self.reset()  # the silence after the turn becomes the next turn's pre-roll
            start = t_end - len(tail) * self._n / SAMPLE_RATE
            for k, s in enumerate(tail):
                self._ring.append((start + k * self._n / SAMPLE_RATE, s))
        return events

    def _audio(self) -> np.ndarray:
        audio = np.concatenate(self._turn)
        keep = round(
            (self._t_last_voice + self.config.trailing_ms / 1000 - self._t_audio_start) * SAMPLE_RATE
        )
        return audio[: max(0, keep)]
