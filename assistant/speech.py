"""Speaking text as it arrives: one thread owns the TTS engine, another feeds the sink.

Synthesis runs ahead of playback, so sentence two is ready when sentence one ends. stop() drops what is
queued and stops the sink; what was actually played is kept (played_text) so a cut-off reply can be stored
as heard.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from assistant.audio.sinks import AudioSink
from assistant.tts import TextToSpeech

_DONE = object()


@dataclass
class _Utterance:
    """One say() call: its text and how much of its audio exists and has been played."""

    text: str
    aside: bool = False  # not part of the answer (a filler while a tool runs)
    synthesized_s: float = 0.0
    played_s: float = 0.0
    synth_done: bool = False


class SpeechOutput:
    """say() queues text and returns at once; finish() waits until everything is played."""

    def __init__(self, tts: TextToSpeech, sink: AudioSink, t0: float | None = None) -> None:
        self.tts = tts
        self.sink = sink
        # Times are time.monotonic(), the pipeline clock.
        self.t0 = time.monotonic() if t0 is None else t0
        self.first_answer_audio_t: float | None = None  # the answer's own first audio (no aside)
        self.first_aside_audio_t: float | None = None  # the first aside's (a filler), if one played
        self.last_audio_t: float | None = None
        self.audio_seconds = 0.0
        self.error: BaseException | None = None
        self.interrupted = False
        self._utterances: list[_Utterance] = []
        self._said = 0  # say() calls queued; compared with _utterances to know all text was taken up
        self._texts: queue.Queue[object] = queue.Queue()
        self._audio: queue.Queue[object] = queue.Queue(maxsize=64)
        self._cancel = threading.Event()
        self._synth_done = threading.Event()  # set as each thread ends (see shutdown)
        self._play_done = threading.Event()
        self._synth = threading.Thread(target=self._synth_work, name="sori-tts", daemon=True)
        self._play = threading.Thread(target=self._play_work, name="sori-playback", daemon=True)
        self._synth.start()
        self._play.start()

    @property
    def first_audio_t(self) -> float | None:
        """When any audio began, a filler included: from then on Sori's voice is audible."""
        times = [t for t in (self.first_answer_audio_t, self.first_aside_audio_t) if t is not None]
        return min(times, default=None)

    @property
    def first_audio_ms(self) -> float | None:
        """When the answer itself began to sound (a filler before it does not count), after t0."""
        t = self.first_answer_audio_t
        return None if t is None else (t - self.t0) * 1000

    @property
    def is_active(self) -> bool:
        return self._play.is_alive()

    def say(self, text: str, *, aside: bool = False) -> None:
        """Queue text to speak; aside=True for words that are not the answer (their audio is timed apart)."""
        if text.strip() and not self._cancel.is_set():
            self._said += 1
            self._texts.put((text, aside))

    def drained(self) -> bool:
        """Everything said so far has been played, or dropped by stop(); finish() is not needed."""
        if self._cancel.is_set() or not self._play.is_alive():
            return True
        utterances = list(self._utterances)
        return len(utterances) == self._said and all(
            u.synth_done and u.played_s >= u.synthesized_s - 1e-3 for u in utterances
        )

    def finish(self) -> None:
        """Wait until everything said so far has been played (or stop() was called)."""
        self._texts.put(_DONE)
        self._synth.join()
        self._play.join()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Drop queued speech and stop playback now (barge-in, Ctrl-C)."""
        if self._cancel.is_set():
            return
        self.interrupted = self._play.is_alive()
        self._cancel.set()
        self.sink.stop()
        self._texts.put(_DONE)
        while True:  # unblock the synthesis thread if the audio queue is full
            try:
                self._audio.get_nowait()
            except queue.Empty:
                break
        self._audio.put(_DONE)

    def shutdown(self) -> None:
        """stop(), then wait for both threads: the process must not exit while onnxruntime runs in one."""
        from assistant.interrupt import wait_quietly

        self.stop()
        wait_quietly(self._synth_done)
        wait_quietly(self._play_done)

    def played_text(self) -> str:
        """The text as far as the listener heard it: whole utterances, plus the heard share of the last."""
        words: list[str] = []
        for u in self._utterances:
            if u.played_s <= 0:
                break
            whole = u.synth_done and u.played_s >= u.synthesized_s - 1e-3
            if u.aside:  # a filler is not the answer: never stored as what Sori replied
                if whole:
                    continue
                break
            if whole:
                words += u.text.split()
            else:
                part = u.text.split()
                share = u.played_s / max(u.synthesized_s, 1e-6)
                words += part[: max(1, round(len(part) * min(share, 1.0)))]
                break
        return " ".join(words)

    def _synth_work(self) -> None:
        try:
            while (item := self._texts.get()) is not _DONE:
                if self._cancel.is_set():
                    break
                text, aside = item  # type: ignore[misc]
                utterance = _Utterance(str(text), bool(aside))
                self._utterances.append(utterance)
                for chunk in self.tts.synthesize(utterance.text):
                    if self._cancel.is_set():
                        break
                    utterance.synthesized_s += chunk.duration_s
                    self._audio.put((utterance, chunk.samples, chunk.sample_rate))
                utterance.synth_done = True
        except BaseException as exc:  # handed to the caller of finish()
            self.error = exc
        finally:
            if not self._cancel.is_set():
                self._audio.put(_DONE)
            self._synth_done.set()

    def _play_work(self) -> None:
        try:
            while (item := self._audio.get()) is not _DONE:
                if self._cancel.is_set():
                    break
                utterance, samples, rate = item  # type: ignore[misc]
                start = time.monotonic()
                if utterance.aside:
                    if self.first_aside_audio_t is None:
                        self.first_aside_audio_t = start
                elif self.first_answer_audio_t is None:
                    self.first_answer_audio_t = start
                self.sink.play(samples, rate)
                played = len(samples) / rate
                if self._cancel.is_set():
                    # Stopped part-way: count only what the listener could have heard.
                    played = min(played, time.monotonic() - start)
                utterance.played_s += played
                self.audio_seconds += played
                self.last_audio_t = time.monotonic()
        except BaseException as exc:
            self.error = exc
            self._cancel.set()
        finally:
            self._play_done.set()
