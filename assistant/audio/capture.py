"""What the turn detector hears while Sori may be speaking, one microphone frame at a time.

Every frame goes through the front end (frontend.py: Sori's own echo removed, noise suppressed), so its
estimates stay current. In loudspeaker mode (no barge-in) nothing is heard while Sori answers. While
Sori's voice is audible, or the room still rings with it, only the OverSpeechGate's strict trigger
(bargein.py) lets the user's speech through to the turn detector.

Two threads meet here: the playback thread tells the PlaybackTap what it plays (and any thread may stop
it), the capture thread asks it whether Sori is audible. What they share is behind the tap's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.audio.bargein import OverSpeechGate
from assistant.audio.clock import Clock, default_clock
from assistant.audio.echo import to_16k
from assistant.audio.frontend import FrontEnd
from assistant.audio.sinks import AudioSink
from assistant.audio.sources import AudioFrame
from assistant.audio.vad import TurnDetector, VadEvent

ECHO_TAIL_S = 0.5  # a living room's reverberation after Sori's voice stops (RT60 up to 0.7 s)


@dataclass(frozen=True)
class BargeInHeard:
    """The quick trigger heard the user over Sori's voice (before the detector can call it a turn)."""

    t: float  # onset of the speech heard over Sori's voice


class Voice(Protocol):
    """What the tap needs of a SpeechOutput: whether its audio has started and is still playing."""

    first_audio_t: float | None

    @property
    def is_active(self) -> bool: ...


class PlaybackTap:
    """Passes audio to the real sink and tells the front end (and listeners) what is being played."""

    def __init__(
        self,
        sink: AudioSink,
        front_end: FrontEnd,
        listeners: list[Callable[[np.ndarray, float], None]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.sink, self.front_end, self.listeners = sink, front_end, list(listeners or [])
        self.clock = default_clock(clock)
        self._lock = threading.Lock()
        self._until = float("-inf")  # clock time the audio handed over so far ends
        self._voice: Voice | None = None

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        t = self.clock.now()
        ref = to_16k(samples, sample_rate)
        latency = float(getattr(self.sink, "latency_s", 0.0) or 0.0)
        with self._lock:
            self._until = t + len(samples) / sample_rate + latency
        self.front_end.played(ref, t)
        for listener in self.listeners:
            listener(ref, t)
        self.sink.play(samples, sample_rate)

    def stop(self) -> None:
        self.sink.stop()
        now = self.clock.now()
        with self._lock:
            self._until = min(self._until, now)
        self.front_end.stopped(now)

    def close(self) -> None:
        pass  # the loop's owner closes the real sink

    @property
    def until(self) -> float:
        with self._lock:
            return self._until

    def attach(self, voice: Voice | None) -> None:
        """The speech output now answering (its audio goes through this tap)."""
        with self._lock:
            self._voice = voice

    def audible(self) -> bool:
        """Sori's voice has started and is still playing."""
        with self._lock:
            voice = self._voice
        return voice is not None and voice.first_audio_t is not None and voice.is_active


class Hearing:
    """Turns microphone frames into turn-detector events, plus BargeInHeard when the quick trigger fires.

    barge_in: the user may talk over Sori (else the microphone is muted while told so, see mute()).
    """

    def __init__(
        self,
        front_end: FrontEnd,
        tap: PlaybackTap,
        detector: TurnDetector,
        *,
        barge_in: bool,
        gate: OverSpeechGate | None = None,
    ) -> None:
        self.front_end = front_end
        self.tap = tap
        self.detector = detector
        self.barge_in = barge_in
        self.gate = gate or OverSpeechGate()  # while Sori speaks, only its strict trigger may start a turn
        self._muted = threading.Event()  # set by the control thread, read here on every frame

    def mute(self, muted: bool) -> None:
        """Loudspeaker mode: hear nothing (silence) while Sori answers, except the answer to a question."""
        if muted:
            self._muted.set()
        else:
            self._muted.clear()

    def hear(self, frame: AudioFrame) -> list[VadEvent | BargeInHeard]:
        fe = self.front_end
        # Every frame goes through the front end, so its echo and noise estimates stay current.
        samples = fe.process(frame.samples, frame.t_start)
        if self._muted.is_set():
            samples = np.zeros_like(samples)
        heard = AudioFrame(samples, frame.t_start, frame.index)
        settled = bool(getattr(fe, "settled", False))
        denoised = getattr(fe, "denoised", None)  # what the barge-in trigger hears
        # The room rings on after the speaker stops: its echo is Sori's voice too.
        ringing = self.barge_in and frame.t_start < self.tap.until + ECHO_TAIL_S
        speaking = self.barge_in and self.tap.audible()
        deaf = bool(getattr(fe, "learning", False))
        near_end = getattr(fe, "near_end", None)  # how much of the frame Sori's echo cannot explain
        fired, frames = self.gate.feed(heard, speaking or ringing, settled, denoised, deaf, near_end=near_end)
        events: list[VadEvent | BargeInHeard] = [BargeInHeard(self.gate.onset)] if fired else []
        for f in frames:
            events += self.detector.process(f)
        return events


__all__ = ["ECHO_TAIL_S", "BargeInHeard", "Hearing", "PlaybackTap"]
