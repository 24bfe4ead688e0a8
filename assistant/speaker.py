"""The reply speaker: one turn's text stream shown, cut into clauses and spoken as each completes.

It keeps the turn's milestones on the pipeline clock (time.monotonic()): the first token, the first clause
handed to TTS, the first and last audio played. first_audio is the answer's own: a filler said while a
tool runs is kept apart as filler_audio. When the listener cut Sori off, the reply is what they
heard, not what the model wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from assistant.speech import SpeechOutput
from assistant.text.splitter import SentenceSplitter


class ReplySpeaker:
    """Feed it deltas (call it); finish() once the text is complete or the turn was stopped.

    Without a SpeechOutput it only shows the text (on_delta) and records the first token.
    """

    def __init__(
        self, speech: SpeechOutput | None = None, on_delta: Callable[[str], None] | None = None
    ) -> None:
        self.speech = speech
        self.on_delta = on_delta
        self.marks: dict[str, float] = {}  # milestone name -> time.monotonic()
        self._splitter = SentenceSplitter() if speech is not None else None
        self._finished = False
        self.error: Exception | None = None

    def __call__(self, delta: str) -> None:
        """One piece of the answer: shown at once, spoken when its clause is complete."""
        self.marks.setdefault("first_token", time.monotonic())
        if self.on_delta is not None:
            self.on_delta(delta)
        if self._splitter is not None:
            self._say(self._splitter.push(delta))

    def aside(self, text: str) -> None:
        """Say something that is not part of the answer (a filler while a tool runs); not shown or stored."""
        if self.speech is not None:
            self.speech.say(text, aside=True)

    @property
    def interrupted(self) -> bool:
        """The listener cut the answer off (barge-in, Ctrl-C): speech.stop() was called while it played."""
        return self.speech is not None and self.speech.interrupted

    def finish(self, text: str, *, cancelled: bool = False) -> str:
        """Speak the last clause (unless the turn was cancelled) and wait until it is played or stopped.

        Returns the reply as the listener heard it: `text`, or its heard part when they cut Sori off.
        What playback raised (a sink that failed) is kept in `error`, for the caller to raise once the
        reply is stored.
        """
        speech = self.speech
        if speech is None or self._finished:
            return text
        self._finished = True
        if not cancelled and self._splitter is not None:
            self._say(self._splitter.flush())
        try:
            speech.finish()  # returns early when speech.stop() is called (barge-in, Ctrl-C)
        except Exception as exc:
            self.error = exc
        if speech.first_answer_audio_t is not None:
            self.marks["first_audio"] = speech.first_answer_audio_t
        if speech.first_aside_audio_t is not None:
            self.marks["filler_audio"] = speech.first_aside_audio_t
        if speech.last_audio_t is not None:
            self.marks["last_audio"] = speech.last_audio_t
        return speech.played_text() if speech.interrupted else text

    def timings_ms(self, t0: float) -> dict[str, float]:
        """The milestones as milliseconds after t0 (on the same clock), named like first_token_ms."""
        return {f"{name}_ms": (t - t0) * 1000 for name, t in self.marks.items()}

    def _say(self, chunks: list[str]) -> None:
        assert self.speech is not None
        for chunk in chunks:
            self.marks.setdefault("first_tts_chunk", time.monotonic())
            self.speech.say(chunk)
