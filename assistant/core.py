"""The assistant: settings, store and the three engines, wired for one turn at a time.

Every client (terminal chat, one-shot ask, the desktop window) goes through this object. Engines are built
and loaded lazily, so a client that only types never loads the speech models.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant import models
from assistant.config import Settings
from assistant.errors import InputError
from assistant.llm import ChatMessage, ChatModel, GenerationStats
from assistant.speech import SpeechOutput
from assistant.store import ConversationStore, Message
from assistant.stt import SpeechToText, Transcription
from assistant.tts import TextToSpeech

# Far beyond any spoken or typed question; longer input is a paste accident, not a question.
MAX_QUESTION_CHARS = 20_000


@dataclass
class Reply:
    text: str
    complete: bool
    stats: GenerationStats
    timings_ms: dict[str, float] = field(default_factory=dict)
    message: Message | None = None
    marks: dict[str, float] = field(default_factory=dict)


class Assistant:
    def __init__(self, settings: Settings, *, store: ConversationStore | None = None) -> None:
        self.settings = settings
        self.profile = settings.profile
        self._store = store
        self._stt: SpeechToText | None = None
        self._llm: ChatModel | None = None
        self._tts: TextToSpeech | None = None
        self._build_lock = threading.Lock()

    # -- engines, built on first use ---------------------------------------------------------------
    @property
    def store(self) -> ConversationStore:
        if self._store is None:
            self._store = ConversationStore()
        return self._store

    @property
    def stt(self) -> SpeechToText:
        with self._build_lock:
            if self._stt is None:
                from assistant.stt.whisper import WhisperSTT

                s = self.settings.stt
                model = models.resolve("stt", s.model, self.profile)
                self._stt = WhisperSTT(model, device=s.device, beam_size=s.beam_size)
            return self._stt

    @property
    def llm(self) -> ChatModel:
        with self._build_lock:
            if self._llm is None:
                s = self.settings.llm
                if s.server_url:
                    from assistant.llm.openai_compat import OpenAICompatChat

                    self._llm = OpenAICompatChat(s.server_url, model=s.server_model, api_key=s.api_key)
                else:
                    from assistant.llm.llamacpp import LlamaCppChat

                    model = models.resolve("llm", s.model, self.profile)
                    self._llm = LlamaCppChat(
                        model,
                        chat_format=s.chat_format,
                        context_size=s.context_size,
                        n_threads=s.n_threads,
                        n_gpu_layers=s.n_gpu_layers,
                        seed=s.seed,
                    )
            return self._llm

    @property
    def tts(self) -> TextToSpeech:
        with self._build_lock:
            if self._tts is None:
                from assistant.tts.piper import PiperTTS

                model = models.resolve("tts", self.settings.tts.voice, self.profile)
                self._tts = PiperTTS(model, speaking_rate=self.settings.tts.speaking_rate)
            return self._tts

    # -- one turn ----------------------------------------------------------------------------------
    def transcribe(self, audio: np.ndarray | str | Path, *, translate: bool = False) -> Transcription:
        return self.stt.transcribe(audio, language=self.settings.stt.language or None, translate=translate)

    def history(self, conversation_id: int) -> list[ChatMessage]:
        msgs = [ChatMessage("system", self.settings.llm.system_prompt)]
        for m in self.store.messages(conversation_id):
            if m.role in ("user", "assistant") and m.text:
                msgs.append(ChatMessage(m.role, m.text))  # type: ignore[arg-type]
        return msgs

    def prefill(self, conversation_id: int, question: str) -> None:
        """Prepare the model for a likely question (speculative end of turn); a no-op for servers."""
        llm = self.llm
        if hasattr(llm, "prefill") and question.strip() and len(question) <= MAX_QUESTION_CHARS:
            messages = [*self.history(conversation_id), ChatMessage("user", question.strip())]
            llm.prefill(messages, self.settings.llm.max_tokens)

    def reply(
        self,
        conversation_id: int,
        question: str,
        *,
        source: str = "typed",
        audio_duration_s: float | None = None,
        on_delta: Callable[[str], None] | None = None,
        speech: SpeechOutput | None = None,
        cancel: threading.Event | None = None,
        timings_ms: dict[str, float] | None = None,
    ) -> Reply:
        """Store the question, stream the answer (speaking each clause as it completes), store the answer.

        The question is committed before generation starts and the answer when it ends, so a crash loses
        at most the answer being generated. A cancelled answer is stored as incomplete.
        """
        question = question.strip()
        if not question:
            raise InputError("the question is empty; type or say something")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(
                f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}: "
                "shorten it"
            )
        timings = dict(timings_ms or {})
        start = time.perf_counter()
        llm = self.llm
        if hasattr(llm, "fit"):
            # Fail on an oversized question before it is stored, so the history stays usable.
            llm.load()
            llm.fit([ChatMessage("user", question)], self.settings.llm.max_tokens)  # type: ignore[attr-defined]
        user_msg_timings = {k: v for k, v in timings.items() if k.startswith("stt")}
        self.store.add_message(
            conversation_id,
            "user",
            question,
            source=source,
            audio_duration_s=audio_duration_s,
            timings_ms=user_msg_timings,
        )
        gen = llm.generate(
            self.history(conversation_id),
            max_tokens=self.settings.llm.max_tokens,
            temperature=self.settings.llm.temperature,
            cancel=cancel,
        )
        splitter = None
        if speech is not None:
            from assistant.text.splitter import SentenceSplitter

            splitter = SentenceSplitter()
        marks: dict[str, float] = {}  # pipeline-clock (monotonic) times of this turn's milestones
        finished = False
        try:
            for delta in gen:
                marks.setdefault("first_token", time.monotonic())
                if on_delta is not None:
                    on_delta(delta)
                if splitter is not None and speech is not None:
                    for chunk in splitter.push(delta):
                        marks.setdefault("first_tts_chunk", time.monotonic())
                        speech.say(chunk)
            finished = True
        finally:
            # Whatever happens (cancel, Ctrl-C, an engine error), keep what was said.
            text = gen.text.strip()
            speech_error: BaseException | None = None
            if splitter is not None and speech is not None:
                if not gen.cancelled:
                    for chunk in splitter.flush():
                        marks.setdefault("first_tts_chunk", time.monotonic())
                        speech.say(chunk)
                try:
                    speech.finish()  # returns early when speech.stop() is called (barge-in, Ctrl-C)
                except Exception as exc:  # stored first, raised after
                    speech_error = exc
                if speech.interrupted:
                    text = speech.played_text()  # store the reply as the listener heard it
                if speech.first_audio_t is not None:
                    marks["first_audio"] = speech.first_audio_t
                if speech.last_audio_t is not None:
                    marks["last_audio"] = speech.last_audio_t
            complete = finished and not gen.cancelled and not (speech is not None and speech.interrupted)
            stats = gen.stats
            t0 = time.monotonic() - (time.perf_counter() - start)
            for name, t in marks.items():
                timings[f"{name}_ms"] = (t - t0) * 1000
            timings["llm_total_ms"] = stats.total_ms
            message = None
            if text:
                message = self.store.add_message(
                    conversation_id, "assistant", text, timings_ms=timings, complete=complete
                )
        if speech_error is not None:
            raise speech_error
        return Reply(text, complete, stats, timings, message, marks)
