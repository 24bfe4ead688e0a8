"""A Session's sound: where it comes from (files, the microphone, a simulated room) and goes to (the
speaker, a WAV file, the room), the gate push-to-talk and mute close, the speaking observer, the timer
chime, and the Listener that runs hands-free listening. No Qt here: everything reports through callbacks.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.audio.sinks import AudioOutputError, AudioSink, NullSink
from assistant.audio.sources import AudioFrame, AudioInputUnavailable
from assistant.config import Settings, VoiceSettings
from assistant.errors import InputError, SoriError
from assistant.events import InputLevel, ListeningStopped, StateChanged, TranscriptReady, TurnStarted

if TYPE_CHECKING:
    from assistant.pipeline import VoiceLoop
    from assistant.session import Session

LEVEL_INTERVAL_S = 0.05  # the meter repaints at most 20 times a second
FLOOR_DBFS = -60.0
CHIME_RATE = 24_000


def level_of(samples: np.ndarray) -> float:
    """Loudness of a frame on a 0..1 scale (-60 dBFS .. 0 dBFS), for a level meter."""
    if samples.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 0:
        return 0.0
    db = 20 * math.log10(rms)
    return max(0.0, min(1.0, (db - FLOOR_DBFS) / -FLOOR_DBFS))


def chime(sample_rate: int = CHIME_RATE) -> np.ndarray:
    """A timer's ring: two soft bell tones (E6 then C6), 0.7 s in all, fading out."""
    parts = []
    for hz, seconds in ((1318.5, 0.3), (1046.5, 0.4)):
        t = np.arange(int(seconds * sample_rate), dtype=np.float32) / sample_rate
        tone = np.sin(2 * np.pi * hz * t) + 0.3 * np.sin(4 * np.pi * hz * t)
        parts.append((0.25 * tone * np.exp(-5.0 * t)).astype(np.float32))
    return np.concatenate(parts)


class GatedSource:
    """Passes frames through while the gate is open and silence (same timing) while it is closed.

    Closing the gate instead of the stream keeps the voice loop, its turn timing and the device open,
    so push-to-talk and mute act at once. The level callback sees what the loop hears.
    """

    def __init__(
        self,
        source: Iterable[AudioFrame],
        *,
        open_: bool = True,
        on_level: Callable[[float], None] | None = None,
    ) -> None:
        self.source = source
        self.on_level = on_level
        self._open = threading.Event()
        if open_:
            self._open.set()
        self._last_level_t = 0.0

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def set_open(self, value: bool) -> None:
        if value:
            self._open.set()
        else:
            self._open.clear()
            self._report(0.0, force=True)

    def __iter__(self) -> Iterator[AudioFrame]:
        for frame in self.source:
            if self._open.is_set():
                self._report(level_of(frame.samples))
                yield frame
            else:
                yield AudioFrame(np.zeros_like(frame.samples), frame.t_start, frame.index)

    def _report(self, level: float, force: bool = False) -> None:
        now = time.monotonic()
        if self.on_level is not None and (force or now - self._last_level_t >= LEVEL_INTERVAL_S):
            self._last_level_t = now
            self.on_level(level)

    def close(self) -> None:
        # The voice loop calls close() on its source to stop; pass it on to the real one.
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


class ObservedSink:
    """A sink that reports when sound starts and stops playing; anything else goes to the real sink
    (its latency for the echo canceller, a WAV sink's chunks, abort())."""

    def __init__(self, sink: AudioSink, on_speaking: Callable[[bool], None]) -> None:
        self.sink = sink
        self.on_speaking = on_speaking
        self._lock = threading.Lock()  # a chime and an answer never play over each other

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        with self._lock:
            self.on_speaking(True)
            try:
                self.sink.play(samples, sample_rate)
            finally:
                self.on_speaking(False)

    def stop(self) -> None:
        self.sink.stop()

    def close(self) -> None:
        self.sink.close()

    def __getattr__(self, name: str):
        if name == "sink":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.sink, name)


class AudioFactory:
    """Makes the sources and sinks a front end asks for, from the current settings."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        on_microphone: Callable[[bool, str, bool], None] | None = None,
    ) -> None:
        """on_microphone(available, message, again): the microphone went away (why), or is back (its
        name; again: after it was lost)."""
        self._settings = settings
        self.on_microphone = on_microphone
        self._lost = False

    def _microphone(self, available: bool, message: str) -> None:
        again, self._lost = available and self._lost, not available
        if self.on_microphone is not None:
            self.on_microphone(available, message, again)

    # -- in ----------------------------------------------------------------------------------------
    def files(
        self,
        paths: Sequence[str | Path],
        *,
        gap_s: float,
        first_gap_s: float = 0.0,
        tail_s: float | None = None,
        room_seed: int | None = None,
    ):
        """Recordings played in real time in place of the microphone, `gap_s` of silence between them;
        with room_seed, heard in a simulated room where Sori's answers echo back."""
        from assistant.audio.sources import ScriptedSource, ScriptItem

        items = [ScriptItem(p, gap_before_s=first_gap_s if i == 0 else gap_s) for i, p in enumerate(paths)]
        tail = gap_s if tail_s is None else tail_s
        if room_seed is not None:
            from assistant.audio.room import RoomSource, random_params

            return RoomSource(items, random_params(room_seed), tail_silence_s=tail)
        return ScriptedSource(items, tail_silence_s=tail)

    def microphone(self, *, required_now: bool = False):
        """The configured microphone; a missing or unplugged one is retried (typed lines work meanwhile).

        required_now: raise AudioInputUnavailable when there is none at this moment (a caller that can
        fall back to text); otherwise listening starts anyway and picks the voice up once it is there.
        """
        from assistant.audio.microphone import MicrophoneSource
        from assistant.audio.reconnect import ReconnectingSource

        device = self._settings().audio.input_device or None
        first: list[MicrophoneSource] = []
        try:
            first.append(MicrophoneSource(device))
        except AudioInputUnavailable:
            if required_now:
                raise
        return ReconnectingSource(
            lambda: first.pop() if first else MicrophoneSource(device), self._microphone
        )

    def microphone_problem(self) -> str | None:
        """Why the microphone cannot be used (opening it and closing it again), or None."""
        from assistant.audio.microphone import MicrophoneSource

        try:
            mic = MicrophoneSource(self._settings().audio.input_device)
        except AudioInputUnavailable as exc:
            return str(exc)
        mic.close()
        return None

    # -- out ---------------------------------------------------------------------------------------
    def output(self, audio_out: str | Path | None = None, *, source: object = None, timed: bool = True):
        """Where Sori speaks: into the room `source` hears, a WAV file (timed: written as it would sound,
        with each chunk's time), or the configured speaker. AudioOutputError when it cannot."""
        from assistant.audio.room import RoomSink, RoomSource

        if isinstance(source, RoomSource):
            return RoomSink(source, audio_out)
        if audio_out:
            if timed:
                from assistant.audio.timed_sink import TimestampedWavSink

                return TimestampedWavSink(audio_out)
            from assistant.audio.sinks import WavFileSink

            return WavFileSink(audio_out)
        from assistant.audio.sinks import SpeakerSink

        return SpeakerSink(self._settings().audio.output_device)

    def try_output(self, audio_out: str | Path | None = None) -> tuple[AudioSink | None, str]:
        """output(), or None and why there is none."""
        try:
            return self.output(audio_out), ""
        except AudioOutputError as exc:
            return None, str(exc)


def check_room(room_seed: int | None, files: Sequence[object]) -> None:
    if room_seed is not None and not files:
        raise InputError("--room needs --audio-in FILE: the simulated room plays recordings, not a live mic")


class TurnIds:
    """A session's turn numbers: its own typed turns and each voice loop's (renumbered to follow them)."""

    def __init__(self) -> None:
        self.current = 0  # the turn events are about now
        self.next = 1
        self._lock = threading.Lock()

    def new(self) -> int:
        with self._lock:
            self.current, self.next = self.next, self.next + 1
            return self.current

    def seen(self, turn_id: int) -> None:
        with self._lock:
            self.current = turn_id
            self.next = max(self.next, turn_id + 1)


class Listener:
    """Hands-free listening: one VoiceLoop at a time on its own thread, its source behind a gate.

    Typed lines go into the loop (in a conversation that exists); its events are renumbered after the
    session's own turns, and each answer is announced with TurnStarted, before they are passed on.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.turns = session.turns
        self.active = False
        self.loop: VoiceLoop | None = None
        self.busy = False  # the loop is answering (from its events, in the order the front end sees them)
        self.gate_open = True
        self.errors: list[str] = []  # what went wrong in the last listening
        self._gate: GatedSource | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._typed: deque[str] = deque()  # typed lines handed to the loop, for their TurnStarted
        self._spoken: set[int] = set()
        self._lock = threading.RLock()
        self._jobs = ThreadPoolExecutor(1, thread_name_prefix="sori-typed")

    def start(self, source, *, open_: bool, voice: VoiceSettings | None) -> None:
        with self._lock:
            self.set_gate(open_)
            if self.active:
                return
            self.active = True
            self._ready.clear()
            self._thread = threading.Thread(
                target=self._run, args=(source, voice), name="sori-voice", daemon=True
            )
        self._thread.start()

    def set_gate(self, value: bool) -> None:
        self.gate_open = value
        gate = self._gate
        if gate is not None:
            gate.set_open(value)

    def stop(self) -> None:
        with self._lock:
            self.active = False
            loop = self.loop
        if loop is not None:
            loop.stop()

    def wait(self, timeout: float | None = None) -> bool:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def close(self, timeout: float) -> None:
        self.stop()
        self.wait(timeout)
        self._jobs.shutdown(wait=True)

    def submit(self, text: str) -> None:
        """A typed turn for the loop; returns at once (the conversation may need creating first)."""
        self._jobs.submit(self._to_loop, text)

    def _to_loop(self, text: str) -> None:
        if not self._ready.wait(30):  # the source is still opening
            return
        loop = self.loop
        if loop is None or not self.active:
            return
        self.session.ensure_conversation()
        self._typed.append(text)
        loop.submit_text(text)

    def _run(self, source, voice: VoiceSettings | None) -> None:
        from assistant.pipeline import VoiceLoop

        error = ""
        loop: VoiceLoop | None = None
        me = threading.current_thread()
        try:
            if callable(source) and not hasattr(source, "__iter__"):
                source = source()
            gate = GatedSource(
                source, open_=self.gate_open, on_level=lambda v: self.session.emit(InputLevel(v))
            )
            offset = self.turns.next  # the loop counts its turns from 0
            loop = VoiceLoop(
                self.session.assistant,
                gate,
                self.session.sink or NullSink(),
                self.session.conversation_id or 0,
                voice=voice,
                on_event=lambda e: self._from_loop(e, offset),
            )
            with self._lock:
                self._gate, self.loop = gate, loop
                stopped = not self.active or self._thread is not me
            self._ready.set()
            if not stopped:
                loop.run()
            gate.close()
        except SoriError as exc:
            error = str(exc)
        except Exception as exc:  # a bug must end listening visibly, not silently kill the thread
            error = f"the voice conversation failed ({type(exc).__name__}: {exc})"
        finally:
            with self._lock:
                if self._thread is me:
                    self.active = self.busy = False
                    self.loop = self._gate = None
                self._ready.set()
            if loop is not None:
                self.errors = list(loop.errors)
            self.session.emit(ListeningStopped(error))

    def _from_loop(self, event: object, offset: int) -> None:
        if hasattr(event, "turn_id"):
            event = replace(event, turn_id=event.turn_id + offset)  # type: ignore[type-var]
            self.turns.seen(event.turn_id)  # type: ignore[attr-defined]
        if isinstance(event, TranscriptReady):
            # On the loop's control thread, before it starts the answer: the conversation exists in time.
            self._spoken.add(event.turn_id)
            self.session.emit(
                TurnStarted(event.turn_id, self.session.ensure_conversation(), event.text, "spoken")
            )
        elif isinstance(event, StateChanged):
            if event.state == "thinking":
                self.busy = True
                if event.turn_id not in self._spoken:
                    text = self._typed.popleft() if self._typed else ""
                    self.session.emit(
                        TurnStarted(event.turn_id, self.session.ensure_conversation(), text, "typed")
                    )
            elif event.state in ("listening", "stopped"):
                self.busy = False
        self.session.emit(event)
