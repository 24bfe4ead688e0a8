"""Speaking text as it arrives: a worker thread owns the TTS engine and feeds a sink."""

from __future__ import annotations

import queue
import threading
import time

from assistant.audio.sinks import AudioSink
from assistant.tts import TextToSpeech

_DONE = object()


class SpeechOutput:
    """say() queues a sentence and returns at once; finish() waits until everything is played."""

    def __init__(self, tts: TextToSpeech, sink: AudioSink, t0: float | None = None) -> None:
        self.tts = tts
        self.sink = sink
        self.t0 = time.perf_counter() if t0 is None else t0
        self.first_audio_ms: float | None = None
        self.audio_seconds = 0.0
        self.synth_ms = 0.0
        self.error: BaseException | None = None
        self._queue: queue.Queue[object] = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._work, name="sori-tts", daemon=True)
        self._thread.start()

    def say(self, text: str) -> None:
        if text.strip():
            self._queue.put(text)

    def finish(self) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Drop queued sentences and stop playback now."""
        self._cancel.set()
        self.sink.stop()
        self._queue.put(_DONE)
        self._thread.join()

    def _work(self) -> None:
        try:
            while (item := self._queue.get()) is not _DONE:
                if self._cancel.is_set():
                    continue
                start = time.perf_counter()
                for chunk in self.tts.synthesize(str(item)):
                    self.synth_ms += (time.perf_counter() - start) * 1000
                    if self._cancel.is_set():
                        break
                    if self.first_audio_ms is None:
                        self.first_audio_ms = (time.perf_counter() - self.t0) * 1000
                    self.sink.play(chunk.samples, chunk.sample_rate)
                    self.audio_seconds += chunk.duration_s
                    start = time.perf_counter()
        except BaseException as exc:  # handed to the caller of finish()
            self.error = exc
