"""Adapters between the voice loop and the window: a gated, metered source and an observed sink.

No Qt here: these run on the loop's threads and report through plain callbacks, which the bridge turns
into signals.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from assistant.audio.sinks import AudioSink
from assistant.audio.sources import AudioFrame
from assistant.core import Assistant
from assistant.errors import SoriError
from assistant.events import Event, TranscriptReady
from assistant.pipeline import VoiceLoop

LEVEL_INTERVAL_S = 0.05  # the meter repaints at most 20 times a second
FLOOR_DBFS = -60.0


def level_of(samples: np.ndarray) -> float:
    """Loudness of a frame on a 0..1 scale (-60 dBFS .. 0 dBFS), for a level meter."""
    if samples.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 0:
        return 0.0
    db = 20 * math.log10(rms)
    return max(0.0, min(1.0, (db - FLOOR_DBFS) / -FLOOR_DBFS))


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
    """A sink that reports when Sori starts and stops speaking (for the mic button and the status)."""

    def __init__(self, sink: AudioSink, on_speaking: Callable[[bool], None]) -> None:
        self.sink = sink
        self.on_speaking = on_speaking

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        self.on_speaking(True)
        try:
            self.sink.play(samples, sample_rate)
        finally:
            self.on_speaking(False)

    def stop(self) -> None:
        self.sink.stop()

    def close(self) -> None:
        self.sink.close()


class VoiceSession:
    """One running VoiceLoop on its own thread, with the gate that push-to-talk, mute and the mic use.

    The source is made on the session's thread (opening a device can block). `conversation_id` may be
    None: the first transcript then creates the conversation (through `new_conversation`) before the
    loop answers it, so an unanswered mic click leaves no empty conversation behind.
    """

    def __init__(
        self,
        assistant: Assistant,
        make_source: Callable[[], Iterable[AudioFrame]],
        sink: AudioSink,
        conversation_id: int | None,
        *,
        open_gate: bool,
        on_event: Callable[[Event, int], None],
        on_level: Callable[[float], None],
        on_ended: Callable[[str | None], None],
        new_conversation: Callable[[], int],
    ) -> None:
        self.assistant = assistant
        self.make_source = make_source
        self.sink = sink
        self.conversation_id = conversation_id
        self.on_event = on_event
        self.on_level = on_level
        self.on_ended = on_ended
        self.new_conversation = new_conversation
        self.gate: GatedSource | None = None
        self.loop: VoiceLoop | None = None
        self._want_open = open_gate
        self._lock = threading.Lock()
        self._stopped = False
        self.thread = threading.Thread(target=self._run, name="sori-ui-voice", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def set_open(self, value: bool) -> None:
        with self._lock:
            self._want_open = value
            if self.gate is not None:
                self.gate.set_open(value)

    @property
    def is_open(self) -> bool:
        return self._want_open

    def follow(self, conversation_id: int | None) -> None:
        """Answer the next turns in this conversation (the window switched to it)."""
        with self._lock:
            self.conversation_id = conversation_id
            if self.loop is not None and conversation_id is not None:
                self.loop.conversation_id = conversation_id

    def submit_text(self, text: str) -> None:
        """A typed turn, answered (and spoken) by the running loop."""
        self._ensure_conversation()
        if self.loop is not None:
            self.loop.submit_text(text)

    def interrupt(self) -> None:
        """Stop the answer being written or spoken; the loop keeps listening when the core allows it."""
        loop = self.loop
        if loop is None:
            return
        interrupt = getattr(loop, "interrupt", None)  # not in the core yet: then stop the session
        if interrupt is not None:
            interrupt()
        else:
            self.stop()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            loop = self.loop
        if loop is not None:
            loop.stop()

    def join(self, timeout: float | None = None) -> None:
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _ensure_conversation(self) -> int:
        with self._lock:
            cid = self.conversation_id
        if cid is None:
            cid = self.new_conversation()
            self.follow(cid)
        return cid

    def _event(self, event: Event) -> None:
        if isinstance(event, TranscriptReady):
            # Runs on the loop's control thread before it starts the answer: the conversation exists in time.
            self._ensure_conversation()
        loop = self.loop
        self.on_event(event, loop.conversation_id if loop is not None else 0)

    def _run(self) -> None:
        error: str | None = None
        try:
            source = self.make_source()
            with self._lock:
                self.gate = GatedSource(source, open_=self._want_open, on_level=self.on_level)
                self.loop = VoiceLoop(
                    self.assistant, self.gate, self.sink, self.conversation_id or 0, on_event=self._event
                )
                stopped = self._stopped
            if not stopped:
                self.loop.run()
            self.gate.close()
        except SoriError as exc:
            error = str(exc)
        except Exception as exc:  # a bug must end the session visibly, not silently kill the thread
            error = f"the voice conversation failed ({type(exc).__name__}: {exc})"
        finally:
            self.on_ended(error)
