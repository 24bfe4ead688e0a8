"""The microphone front end: WebRTC's audio processing (AEC3 echo cancellation, high-pass filter, optional
gain control, then noise suppression for the barge-in trigger) on every heard frame, before the VAD,
barge-in and Whisper.

What the sink plays is the far end ("reverse stream"): the playback thread hands it over with the
clock time it starts sounding, and the front end keeps it on a timeline. For each 10 ms of microphone
audio it first feeds the reverse stream the reference samples of the same clock time, then processes
the microphone samples; the sink's own output latency (what it knows of the time from play() to sound)
goes to the canceller as the stream delay. What the sink does not know (buffering in the driver or a
Bluetooth speaker, the acoustic path; up to several hundred ms) the echo model below finds within about
a second of Sori's first answer, and the canceller is started again told all of it. That model of the
echo, independent of AEC3 (echo_model.py), also gives the barge-in trigger its evidence of the user
(`near_end`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

import numpy as np

from assistant.audio.decode import SAMPLE_RATE
from assistant.audio.echo_model import EchoBound
from assistant.errors import SoriError

APM_FRAME = SAMPLE_RATE // 100  # WebRTC processes 10 ms at a time
# AEC3 has converged once it has heard this much of Sori's voice (measured on simulated rooms, `sori bench
# echo`: bursts of residual echo as loud as a user come through mostly in the first 1-2.5 s, and a
# trigger that weighed the echo model's evidence from 1.0-2.0 s in still fired on some; later bursts are
# rare, and the evidence tells them from the user). It is heard once per session: the APM keeps the room.
SETTLE_S = 2.5
_AUDIBLE = (10 ** (-60 / 20) * 32767) ** 2 * APM_FRAME  # energy of a 10 ms frame at -60 dBFS, in PCM units
# After Sori's voice stops, its echo rings on in the room (RT60 up to 0.7 s) and AEC3 still works on it.
QUIET_ROOM_S = 1.0
_HISTORY_FRAMES = 1000  # 10 ms frames kept from Sori's first audible word while the echo's delay is unknown
_PRE_ROLL = 50  # and the half second before it: a canceller started on her first word converges worse
_QUIET = (10 ** (-50 / 20) * 32767) ** 2 * APM_FRAME  # a microphone frame below -50 dBFS: no echo to speak of


class FrontEndUnavailable(SoriError):
    pass


class FrontEnd(Protocol):
    """Cleans microphone frames; told what Sori plays and when (from the playback thread)."""

    def played(self, samples_16k: np.ndarray, t_start: float) -> None: ...

    def stopped(self, t: float) -> None: ...

    def process(self, frame: np.ndarray, t_start: float) -> np.ndarray: ...


class PassThrough:
    """Every stage off: the microphone as it is."""

    def played(self, samples_16k: np.ndarray, t_start: float) -> None:
        pass

    def stopped(self, t: float) -> None:
        pass

    def process(self, frame: np.ndarray, t_start: float) -> np.ndarray:
        return frame


class ReferenceTimeline:
    """The last `history_s` of played audio at 16 kHz, placed by clock time; silence where nothing played.

    A chunk is handed over whole as it starts playing, so the history must outlast the longest chunk.
    """

    def __init__(self, history_s: float = 30.0) -> None:
        self._size = int(history_s * SAMPLE_RATE)
        self._ref = np.zeros(self._size, np.float32)
        self._end_t = 0.0  # clock time just after the newest sample
        self._lock = threading.Lock()

    def add(self, samples: np.ndarray, t_start: float) -> None:
        with self._lock:
            gap = round((t_start - self._end_t) * SAMPLE_RATE)
            block = np.asarray(samples, np.float32)
            if gap > 0:
                block = np.concatenate([np.zeros(min(gap, self._size), np.float32), block])
            elif gap < 0 and self._end_t > 0:
                # Starts before the end of what was queued (cut short by a stop): it replaces that part.
                keep = max(0, self._size + gap)
                self._ref = np.concatenate([np.zeros(self._size - keep, np.float32), self._ref[:keep]])
                self._end_t = t_start
            block = block[-self._size :]
            self._ref = np.concatenate([self._ref[len(block) :], block])
            self._end_t = max(self._end_t, t_start) + len(samples) / SAMPLE_RATE

    def cut(self, t: float) -> None:
        """Playback stopped at t: what was queued after t never sounded."""
        with self._lock:
            cut = round((self._end_t - t) * SAMPLE_RATE)
            if cut > 0:
                self._ref[-min(cut, self._size) :] = 0.0

    def window(self, t_start: float, n: int) -> np.ndarray:
        """Samples [t_start, t_start + n/16 kHz), zeros outside what is kept."""
        out = np.zeros(n, np.float32)
        with self._lock:
            end = self._size - round((self._end_t - t_start) * SAMPLE_RATE) + n
            start = end - n
            lo, hi = max(start, 0), min(end, self._size)
            if lo < hi:
                out[lo - start : hi - start] = self._ref[lo:hi]
        return out


class EchoPresence:
    """Whether the microphone hears the speaker at all. With headphones (or the volume down) it stays
    quiet while Sori speaks; on speakers its echo is there in nearly every frame Sori is audible."""

    DECIDE = 50  # 10 ms frames of Sori's audible voice before deciding

    def __init__(self) -> None:
        self._audible = 0
        self._quiet = 0
        self._quiet_mark = 0
        self.found = False  # the microphone hears Sori's voice
        self.absent = False  # it does not: Sori was audible long enough and the microphone stayed quiet

    def add(self, ref_energy: float, mic_energy: float) -> None:
        if ref_energy <= _AUDIBLE or self.found:
            return
        self._audible += 1
        self._quiet += mic_energy < _QUIET
        if self._audible == self.DECIDE:  # decided once; the echo's delay makes a few frames quiet
            self.absent = self._quiet >= 0.8 * self._audible
            self.found = not self.absent
        elif self.absent and self._audible % (2 * self.DECIDE) == 0:
            # The volume went up after all: loud in nearly every frame Sori was audible, for a second.
            recent_quiet = self._quiet - self._quiet_mark
            self.found = recent_quiet < 0.2 * 2 * self.DECIDE
            self.absent = not self.found
        if self._audible % (2 * self.DECIDE) == 0:
            self._quiet_mark = self._quiet


def _pcm(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


class WebRtcFrontEnd:
    """livekit's build of the WebRTC audio processing module, at 16 kHz mono."""

    def __init__(
        self,
        *,
        echo_cancellation: bool = True,
        noise_suppression: bool = True,
        gain_control: bool = False,
        high_pass_filter: bool = True,
        output_latency_s: Callable[[], float] | None = None,
        find_delay: bool = True,
    ) -> None:
        """find_delay=False keeps the first canceller, left to find the delay the sink did not report
        by itself (as before it was restarted told it; for comparison)."""
        try:
            from livekit import rtc
        except ImportError:
            raise FrontEndUnavailable(
                "echo cancellation needs the livekit package: .venv/bin/pip install 'livekit==1.2.0' "
                "(or set [audio] echo_cancellation = false and noise_suppression = false)"
            ) from None
        self._rtc = rtc
        self.echo_cancellation = echo_cancellation
        self._make_apm = lambda: rtc.AudioProcessingModule(
            echo_cancellation=echo_cancellation,
            high_pass_filter=high_pass_filter,
            auto_gain_control=gain_control,
        )
        self._apm = self._make_apm()
        # AEC3 takes the stream delay as its starting point only when it starts (a later change is
        # ignored), and left to find a long delay itself it lets more of the first answer's echo through:
        # told the true delay from the start, 1-5 dB more on a set's median room (`sori bench echo`).
        # The delay beyond the sink's latency is unknown until the echo model finds it (a quarter to one
        # and a half seconds into Sori's voice), so what was played and heard until then is kept, and a
        # new canceller told the delay replays it and takes over.
        keep = echo_cancellation and find_delay
        self._history: deque[tuple[bytes, bytes]] | None = deque() if keep else None
        self._extra_delay_ms = 0  # found beyond the sink's latency
        self.found_delay_ms: int | None = None  # the delay beyond the sink's latency, once found
        # Noise suppression runs after, on its own: its output is what the barge-in trigger hears (fewer
        # false barge-ins on residual echo), while the turn detector and Whisper hear the signal before
        # it: as it adapts to a sudden loud rumble its output swells like speech and would start a turn.
        self._ns = rtc.AudioProcessingModule(noise_suppression=True) if noise_suppression else None
        self._ns_buf = bytearray(APM_FRAME * 2)
        self._ns_pcm = np.frombuffer(self._ns_buf, np.int16)
        self.denoised = np.zeros(0, np.float32)  # the last frame after noise suppression too
        self._latency = output_latency_s or (lambda: 0.0)
        self.reference = ReferenceTimeline()
        self._mic = bytearray(APM_FRAME * 2)
        self._rev = bytearray(APM_FRAME * 2)
        self._mic_pcm = np.frombuffer(self._mic, np.int16)  # views: the APM writes into the bytearrays
        self._rev_pcm = np.frombuffer(self._rev, np.int16)
        self._heard_frames = 0  # 10 ms frames of audible reference processed so far
        self._audible_t = float("-inf")  # clock time of the last 10 ms in which Sori's voice was audible
        self._raw_when_quiet = echo_cancellation and not gain_control  # gain control must always apply
        # While AEC3 learns the room (its first seconds) it mutes the near end whenever Sori speaks, even
        # with no echo at all (and for seconds more): until the microphone is seen to hear the speaker,
        # the same cleaning without the canceller is used (headphones: always).
        self.presence = EchoPresence()
        self._plain = (
            rtc.AudioProcessingModule(high_pass_filter=high_pass_filter, auto_gain_control=gain_control)
            if echo_cancellation
            else None
        )
        self._plain_buf = bytearray(APM_FRAME * 2)
        self._plain_pcm = np.frombuffer(self._plain_buf, np.int16)
        # Whether what the microphone hears is more than Sori's echo could be (the barge-in trigger's
        # evidence of the user; AEC3 now and then lets a burst of Sori's voice through).
        self._bound = EchoBound() if echo_cancellation else None
        self.near_end: float | None = None  # for the last frame: 0..1, None while unknown

    @property
    def learning(self) -> bool:
        """The microphone hears Sori's voice (or it is not known yet) and AEC3 has not converged: what it
        lets through may be Sori itself, as loud as a user (`sori bench echo`), so nothing should
        interrupt Sori then but speech that `near_end` backs nearly throughout (OverSpeechGate)."""
        return not self.presence.absent and not self.settled  # undecided counts: no interrupting yet

    @property
    def settled(self) -> bool:
        """The canceller has heard enough of Sori's voice to have converged (it stays so: same room)."""
        return self.echo_cancellation and self._heard_frames * APM_FRAME >= SETTLE_S * SAMPLE_RATE

    def played(self, samples_16k: np.ndarray, t_start: float) -> None:
        if self.echo_cancellation:
            self.reference.add(samples_16k, t_start)

    def stopped(self, t: float) -> None:
        self.reference.cut(t)

    def _restart_at_found_delay(self, latency_ms: int) -> None:
        """Once the echo model knows the delay: a new canceller, told it, replays what was kept (the
        current frame's reference included, its microphone frame is processed by the caller)."""
        assert self._history is not None and self._bound is not None
        found = self._bound.delay
        if found is None:
            if len(self._history) >= _HISTORY_FRAMES:  # no echo found in time: AEC3 finds its own way
                self._history = None
            return
        history, self._history = self._history, None
        self._extra_delay_ms = self.found_delay_ms = max(0, found * 10 - latency_ms)
        delay = min(500, latency_ms + self._extra_delay_ms)
        rtc, apm = self._rtc, self._make_apm()
        for k, (rev, mic) in enumerate(history):
            apm.process_reverse_stream(rtc.AudioFrame(bytearray(rev), SAMPLE_RATE, 1, APM_FRAME))
            apm.set_stream_delay_ms(delay)
            if k < len(history) - 1:
                apm.process_stream(rtc.AudioFrame(bytearray(mic), SAMPLE_RATE, 1, APM_FRAME))
        self._apm = apm

    def process(self, frame: np.ndarray, t_start: float) -> np.ndarray:
        """The frame cleaned, same length; a partial last 10 ms is padded with silence for the APM."""
        n = len(frame)
        padded = -n % APM_FRAME
        pcm = _pcm(np.concatenate([frame, np.zeros(padded, np.float32)]) if padded else frame)
        out = np.empty(len(pcm), np.float32)
        quiet = np.empty(len(pcm), np.float32)
        rtc = self._rtc
        delay_ms = max(0, min(500, round(self._latency() * 1000)))
        near_end: float | None = None
        if self._bound is not None:
            self._bound.set_latency(delay_ms // 10)
        for i in range(0, len(pcm), APM_FRAME):
            learning = self._plain is not None and not self.presence.found
            if self.echo_cancellation:
                # Always fed, silence included: AEC3 keeps render and capture in step frame by frame.
                t = t_start + i / SAMPLE_RATE
                self._rev_pcm[:] = _pcm(self.reference.window(t, APM_FRAME))
                rev = self._rev_pcm.astype(np.float32)
                ref_energy = float(np.dot(rev, rev))
                self._heard_frames += ref_energy > _AUDIBLE
                if ref_energy > _AUDIBLE:
                    self._audible_t = t
                self._apm.process_reverse_stream(rtc.AudioFrame(self._rev, SAMPLE_RATE, 1, APM_FRAME))
                self._apm.set_stream_delay_ms(min(500, delay_ms + self._extra_delay_ms))
                mic = pcm[i : i + APM_FRAME].astype(np.float32)
                if learning:
                    self.presence.add(ref_energy, float(np.dot(mic, mic)))
                if self._bound is not None:
                    score = self._bound.update(rev / 32767.0, mic / 32767.0, ref_energy > _AUDIBLE)
                    if score is not None:
                        near_end = score if near_end is None else max(near_end, score)
                if self._history is not None:
                    self._history.append((bytes(self._rev), pcm[i : i + APM_FRAME].tobytes()))
                    if not self._heard_frames and len(self._history) > _PRE_ROLL:
                        self._history.popleft()
                    self._restart_at_found_delay(delay_ms)
            self._mic_pcm[:] = pcm[i : i + APM_FRAME]
            self._apm.process_stream(rtc.AudioFrame(self._mic, SAMPLE_RATE, 1, APM_FRAME))
            # Nothing of Sori's voice can be in the room (none played for a while): the user's words as
            # heard, so Whisper gets what it would without the canceller (the APM still keeps its state).
            echo_free = self._raw_when_quiet and t_start + i / SAMPLE_RATE - self._audible_t > QUIET_ROOM_S
            out[i : i + APM_FRAME] = pcm[i : i + APM_FRAME] if echo_free else self._mic_pcm
            if learning and self._plain is not None:
                self._plain_pcm[:] = pcm[i : i + APM_FRAME]
                self._plain.process_stream(rtc.AudioFrame(self._plain_buf, SAMPLE_RATE, 1, APM_FRAME))
                if self.presence.absent:
                    out[i : i + APM_FRAME] = self._plain_pcm
            if self._ns is not None:
                self._ns_pcm[:] = out[i : i + APM_FRAME]
                self._ns.process_stream(rtc.AudioFrame(self._ns_buf, SAMPLE_RATE, 1, APM_FRAME))
                quiet[i : i + APM_FRAME] = self._ns_pcm
            else:
                quiet[i : i + APM_FRAME] = out[i : i + APM_FRAME]
        out *= np.float32(1 / 32767.0)
        quiet *= np.float32(1 / 32767.0)
        self.denoised = quiet[:n]
        self.near_end = near_end
        return out[:n]


def make_front_end(audio, output_latency_s: Callable[[], float] | None = None) -> FrontEnd:
    """The front end the [audio] settings ask for (AudioSettings: echo_cancellation, noise_suppression,
    gain_control)."""
    if not (audio.echo_cancellation or audio.noise_suppression or audio.gain_control):
        return PassThrough()
    return WebRtcFrontEnd(
        echo_cancellation=audio.echo_cancellation,
        noise_suppression=audio.noise_suppression,
        gain_control=audio.gain_control,
        output_latency_s=output_latency_s,
    )
