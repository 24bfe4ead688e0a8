"""Hearing the user over Sori's own voice, on the front end's cleaned frames.

While Sori speaks, whatever echo the canceller leaves must not start a turn. Measured on simulated rooms
(`sori bench echo`), what is left is quiet once WebRTC's AEC3 has converged, but during its first two
seconds or so of Sori's voice it lets through bursts of 40-100 ms as loud as a user, and now and then
one of 40-140 ms later on, which webrtcvad calls speech. The front end's own model of the echo
(audio/echo_model.py) tells how much of each frame Sori's echo cannot explain (`near_end`): a burst of
leftover echo has next to none, a user speaking over Sori has it within their first frames. So:
- converged canceller (its first 2.5 s of Sori's voice in a session; it keeps the room after that):
  40 ms of webrtcvad speech (at its strictest, above a level floor) with that evidence in the run, or
  20 ms when that frame is as loud as a user's voice (a burst of leftover echo that passes is quieter);
- still converging, on a room where the microphone hears Sori: 80 ms of speech with strong evidence
  in all but one frame (the model's first second is rough too, so nothing at all before it speaks);
- no evidence given: 80 ms of speech once converged, nothing while converging (bursts still pass);
- the microphone does not hear the speaker (headphones): 100 ms of speech, from the start.
The turn detector hears those frames only once the trigger has fired; until then they wait in a short
buffer, so the user's first syllables still reach Whisper.
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
        self,
        frame_ms: int = 20,
        needed_ms: int = 100,
        settled_ms: int = 80,
        floor_dbfs: float = -40.0,
        evident_ms: int = 40,
        at_once_dbfs: float = -35.0,
        evidence: float = 0.5,
        learning_ms: int = 80,
        learning_evidence: float = 0.8,
    ) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(3)
        self._needed = max(1, needed_ms // frame_ms)
        self._needed_settled = max(1, settled_ms // frame_ms)
        self._needed_evident = max(1, evident_ms // frame_ms)
        self._at_once = 10 ** (at_once_dbfs / 20)
        self._evidence = evidence
        self._needed_learning = max(1, learning_ms // frame_ms)
        self._learning_evidence = learning_evidence
        self._floor = floor_dbfs
        self._run = 0
        self._run_evidence = 0.0  # the most near-end evidence in the current run
        self._run_strong = 0  # frames of the current run with the evidence asked of a learning canceller
        self._fired = False  # once per run
        self._onset = 0.0

    def hears(
        self,
        samples: np.ndarray,
        t: float,
        settled: bool = False,
        near_end: float | None = None,
        learning: bool = False,
    ) -> bool:
        """True on the frame that completes the run; settled: the echo canceller has converged;
        near_end: the share of the frame Sori's echo cannot explain (0..1), None where unknown;
        learning: the canceller is still converging on a room where the microphone hears Sori (then
        only a run that the evidence backs nearly throughout counts)."""
        rms = float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0
        loud = rms > 10 ** (self._floor / 20)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        voiced = loud and len(samples) in (160, 320, 480) and self._vad.is_speech(pcm, SAMPLE_RATE)
        if not voiced:
            self.reset()
            return False
        if self._run == 0:
            self._onset = t
        self._run += 1
        if self._fired:
            return False
        if learning:
            # AEC3 lets bursts of Sori's voice through while it converges, and the evidence is young.
            self._run_strong += near_end is not None and near_end >= self._learning_evidence
            self._fired = self._run >= self._needed_learning and self._run_strong >= self._needed_learning - 1
        elif settled and near_end is not None:
            self._run_evidence = max(self._run_evidence, near_end)
            enough = self._run >= self._needed_evident or rms >= self._at_once  # a loud frame: at once
            self._fired = enough and self._run_evidence >= self._evidence
        else:
            self._fired = self._run == (self._needed_settled if settled else self._needed)
        return self._fired

    def reset(self) -> None:
        """No run in progress (a frame that was not heard, or not speech)."""
        self._run, self._run_evidence, self._run_strong, self._fired = 0, 0.0, 0, False

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
        near_end: float | None = None,
    ) -> tuple[bool, list[AudioFrame]]:
        """trigger_samples: what the trigger hears instead of the frame (the noise-suppressed version);
        deaf: the canceller is still learning a room where the microphone hears Sori, so nothing
        interrupts Sori yet, unless near_end (the front end's evidence that the frame holds more than
        Sori's echo, WebRtcFrontEnd.near_end; None where there is none) backs a run nearly throughout."""
        if not speaking:
            self._open = False
            self.trigger.reset()  # a run never spans two answers
            return False, self._release() + [frame]
        if self._open:
            return False, [frame]
        heard = frame.samples if trigger_samples is None else trigger_samples
        # A learning canceller leaves the trigger deaf unless the front end can tell the user from echo.
        if deaf and near_end is None:
            self.trigger.reset()
        elif self.trigger.hears(heard, frame.t_start, settled, near_end, learning=deaf):
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
