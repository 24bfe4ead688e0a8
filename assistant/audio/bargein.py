"""Hearing the user over Sori's own voice, on the front end's cleaned frames.

While Sori speaks, whatever echo the canceller leaves must not start a turn. Measured on simulated rooms
(`sori bench echo`), what is left is quiet once WebRTC's AEC3 has converged, but during its first two
seconds or so of Sori's voice it lets through bursts of 40-100 ms as loud as a user, and now and then
one of 40-60 ms later on. So on speakers nothing interrupts Sori until the canceller has converged (its
first 2.5 s of Sori's voice in a session; it keeps the room after that), and then only a strict
trigger: webrtcvad at its strictest, above a level floor, for 80 ms in a row (60 ms let four times as
many bursts through on the same rooms). Where the microphone does not hear the speaker (headphones) the
trigger works from the start, with 100 ms. The turn detector hears those frames only once the trigger
has fired; until then they wait in a short buffer, so the user's first syllables still reach Whisper.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from assistant.audio.decode import SAMPLE_RATE
from assistant.audio.sources import AudioFrame


class BargeInTrigger:
    """Hears the user over Sori's voice within ~100 ms: a strict webrtcvad on the echo-cancelled input.

    The turn detector waits for min_speech_ms before it calls something a turn (so coughs are not
    turns); stopping playback cannot wait that long, so this trigger stops it early and the detector
    then starts the new turn as usual.
    """

    def __init__(
        self, frame_ms: int = 20, needed_ms: int = 100, settled_ms: int = 80, floor_dbfs: float = -40.0
    ) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(3)
        self._needed = max(1, needed_ms // frame_ms)
        self._needed_settled = max(1, settled_ms // frame_ms)
        self._floor = floor_dbfs
        self._run = 0
        self._onset = 0.0

    def hears(self, samples: np.ndarray, t: float, settled: bool = False) -> bool:
        """True on the frame that completes the run; settled: the echo canceller has converged."""
        rms = float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0
        loud = rms > 10 ** (self._floor / 20)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        voiced = loud and len(samples) in (160, 320, 480) and self._vad.is_speech(pcm, SAMPLE_RATE)
        if not voiced:
            self._run = 0
            return False
        if self._run == 0:
            self._onset = t
        self._run += 1
        return self._run == (self._needed_settled if settled else self._needed)

    @property
    def onset(self) -> float:
        return self._onset


class OverSpeechGate:
    """What the turn detector hears while Sori speaks: nothing (silence) until the trigger fires, then the
    held-back frames and everything after. feed() returns (trigger fired, frames for the detector)."""

    def __init__(self, trigger: BargeInTrigger | None = None, hold_ms: int = 400, frame_ms: int = 20) -> None:
        self.trigger = trigger or BargeInTrigger(frame_ms=frame_ms)
        self._held: deque[AudioFrame] = deque()
        self._hold = max(1, hold_ms // frame_ms)
        self._open = False

    def feed(
        self,
        frame: AudioFrame,
        speaking: bool,
        settled: bool = False,
        trigger_samples: np.ndarray | None = None,
        deaf: bool = False,
    ) -> tuple[bool, list[AudioFrame]]:
        """trigger_samples: what the trigger hears instead of the frame (the noise-suppressed version);
        deaf: the canceller is still learning a room where the microphone hears Sori, so nothing
        interrupts Sori yet."""
        if not speaking:
            self._open = False
            return False, self._release() + [frame]
        if self._open:
            return False, [frame]
        heard = frame.samples if trigger_samples is None else trigger_samples
        if not deaf and self.trigger.hears(heard, frame.t_start, settled):
            self._open = True
            return True, self._release() + [frame]
        self._held.append(frame)
        out: list[AudioFrame] = []
        while len(self._held) > self._hold:  # too old to be the user's onset: heard as silence
            old = self._held.popleft()
            out.append(AudioFrame(np.zeros_like(old.samples), old.t_start, old.index))
        return False, out

    def _release(self) -> list[AudioFrame]:
        frames = list(self._held)
        self._held.clear()
        return frames

    @property
    def onset(self) -> float:
        return self.trigger.onset
