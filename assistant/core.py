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
from typing import TYPE_CHECKING

import numpy as np

from assistant import engines
from assistant.chain import ToolChain, chat_messages, fast_path_tool
from assistant.config import Settings
from assistant.errors import InputError
from assistant.llm import ChatMessage, ChatModel, GenerationStats, LocalChatModel
from assistant.speaker import ReplySpeaker
from assistant.speech import SpeechOutput
from assistant.store import ConversationStore, Message
from assistant.stt import SpeechToText, Transcription
from assistant.stt.short import LANGUAGE_CONFIDENCE
from assistant.text.endings import is_clear_question
from assistant.text.utf8 import NOT_UTF8, scrub
from assistant.tools.executor import confirmation
from assistant.tools.said import bounded, said_arguments
from assistant.tts import TextToSpeech

if TYPE_CHECKING:
    from assistant.tools.router import ToolRouter

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
    tool_calls: list[dict] = field(default_factory=list)
    question: Message | None = None  # the question as stored


class Assistant:
    def __init__(self, settings: Settings, *, store: ConversationStore | None = None) -> None:
        self.settings = settings
        self.profile = settings.profile
        self._store = store
        self._stt: SpeechToText | None = None
        self._llm: ChatModel | None = None
        self._tts: TextToSpeech | None = None
        self._tools = None
        self._executor = None
        self._router: tuple[tuple, ToolRouter] | None = None  # (the tool specs it was built from, ToolRouter)
        # Asked before a confirm=True tool runs: the sentence says what will happen; True means go ahead.
        self.confirm: Callable[[str], bool] | None = None
        # Told something the user should know about their input (bytes that were not UTF-8).
        self.notice: Callable[[str], None] | None = None
        self.dry_run_tools = False  # record tool calls without running them (evaluation)
        self._build_lock = threading.RLock()
        self._spoken_language: str | None = None  # the language of the user's last turn, where sure

    def close(self) -> None:
        """Release the engines and the store (each waits for work in progress)."""
        for engine in (self._llm,):
            close = getattr(engine, "close", None)
            if close is not None:
                close()
        if self._store is not None:
            self._store.close()

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
                self._stt = engines.build_stt(self.settings)
            return self._stt

    @property
    def llm(self) -> ChatModel:
        with self._build_lock:
            if self._llm is None:
                self._llm = engines.build_llm(self.settings)
            return self._llm

    @property
    def local_llm(self) -> LocalChatModel | None:
        """The chat model when Sori runs it itself (it can warm, prefill, fit and force a call); None for
        a server."""
        llm = self.llm
        return llm if isinstance(llm, LocalChatModel) else None

    @property
    def tts(self) -> TextToSpeech:
        with self._build_lock:
            if self._tts is None:
                from assistant.tts.select import VoiceSwitch

                self._tts = VoiceSwitch(engines.build_tts(self.settings), self.settings.tts.loudness_dbfs)
            return self._tts

    def set_voice(self, value: str) -> None:
        """Speak with another voice from the next sentence on; built and loaded before the switch, so a
        voice that cannot be used raises here and the current one keeps speaking."""
        engine = engines.build_tts(self.settings, value)
        load = getattr(engine, "load", None)
        if load is not None:
            load()
        with self._build_lock:
            if self._tts is None:
                from assistant.tts.select import VoiceSwitch

                self._tts = VoiceSwitch(engine, self.settings.tts.loudness_dbfs)
            else:
                self._tts.switch(engine)  # type: ignore[attr-defined]

    # -- one turn ----------------------------------------------------------------------------------
    def transcribe(self, audio: np.ndarray | str | Path, *, translate: bool = False) -> Transcription:
        language = self.settings.stt.language or None
        likely = None if language else self._spoken_language
        result = self.stt.transcribe(audio, language=language, translate=translate, likely_language=likely)
        if result.text and result.language_probability >= LANGUAGE_CONFIDENCE:
            self._spoken_language = result.language  # the engine was sure: the next turn's likely language
        return result

    def history(self, conversation_id: int) -> list[ChatMessage]:
        """The conversation as the model sees it, tool calls and their results included."""
        return chat_messages(self.settings.llm.system_prompt, self.store.messages(conversation_id))

    # -- tools -------------------------------------------------------------------------------------
    @property
    def tools(self):
        """The tool registry: built-in tools plus the user's plugin folders (loaded on first use)."""
        with self._build_lock:
            if self._tools is None:
                from assistant import paths
                from assistant.tools import ToolRegistry
                from assistant.tools.loader import BUILTIN_DIR

                dirs = [paths.plugins_dir(), *self.settings.plugins.dirs]
                self._tools = ToolRegistry(
                    dirs, builtin_dir=BUILTIN_DIR, load_timeout_s=self.settings.plugins.load_timeout_s
                )
                self._tools.load()
            return self._tools

    @property
    def executor(self):
        with self._build_lock:
            if self._executor is None:
                from assistant.tools import ToolExecutor

                p = self.settings.plugins
                self._executor = ToolExecutor(
                    self.tools,
                    default_timeout=p.timeout_s,
                    max_result_chars=p.max_result_chars,
                )
            return self._executor

    def _ask(self, sentence: str) -> bool:
        """The user's yes or no to a confirm=True tool, through whichever client set `confirm`."""
        if self.confirm is None:
            from assistant.tools.errors import NobodyToAsk

            raise NobodyToAsk(sentence)
        return bool(self.confirm(sentence))

    def warm(self, tools: list[dict] | None = None) -> None:
        """Load the chat model and get its fixed prompt prefix ready (from the disk cache when saved)."""
        from assistant import paths

        llm = self.llm
        llm.load()
        local = self.local_llm
        if local is not None:
            schemas = self.tool_schemas() if tools is None else tools
            local.warm(self.settings.llm.system_prompt, schemas or None, paths.data_dir() / "cache")

    def tool_schemas(self, request: str | None = None) -> list[dict]:
        """The tools to offer the model: those the request plausibly needs (all of them without a request)."""
        if not self.settings.plugins.enabled:
            return []
        specs = self.tools.tools
        if request is None:
            return [s.openai_schema() for s in specs.values()]
        return [specs[name].openai_schema() for name in self.router().select(request)]

    def router(self) -> ToolRouter:
        """The ToolRouter of the tools loaded now; rebuilt only when a plugin file changed them.

        Building one stems every tool's words (about 6 ms), and a turn routes two or three times.
        """
        from assistant.tools.router import ToolRouter

        specs = tuple(self.tools.tools.values())  # specs compare by identity: a reloaded file is a new one
        cached = self._router
        if cached is None or cached[0] != specs:
            cached = self._router = (specs, ToolRouter(specs))
        return cached[1]

    def prefill(
        self,
        conversation_id: int,
        question: str,
        on_guess: Callable[[float | None], None] | None = None,
    ) -> float | None:
        """Prepare the model for a likely question (speculative end of turn); a no-op for servers.

        Returns the model's probability that the user's turn ends after these words (None: unknown), also
        given to `on_guess` as soon as it is known: a request the fast path will answer has its call's
        opening evaluated after that (about 100 ms on the default model), ready for the call. A request a
        tool's pattern takes whole, with arguments said in it, is whole (1.0) without asking the model.
        """
        local = self.local_llm
        turn_end = None
        text = question.strip()
        if local is not None and text and len(question) <= MAX_QUESTION_CHARS:
            # The same prompt reply() will build, tool schemas included, or the work is wasted.
            tools = self.tool_schemas(text)
            router = self.router()
            tool = fast_path_tool(router, text, tools) if self.settings.plugins.fast_path else None
            said = said_arguments(router, tool, text) if tool is not None else None
            # A question a tool's pattern takes whole ("What time is it in Tokyo?", "What time is it?"); a
            # statement only when what was said cannot go on ("Set a timer for 10 minutes"; "Add a note
            # that" is a note's whole pattern too, cut short). The turn taker answers a statement only
            # after the long silence, and takes an early answer back if the user goes on.
            whole = said is not None and (is_clear_question(text) or bounded(said, tool))
            if whole:
                turn_end = 1.0
                if on_guess is not None:
                    on_guess(turn_end)
                if self.settings.plugins.fast_path_reply == "template":
                    return turn_end  # the answer is the tool's result in a fixed sentence: no model at all
            # The system+tools prefix from its saved state first (milliseconds), as reply() does; without
            # this the prefill evaluated that prefix from scratch, seconds longer than the reply it served.
            self.warm(tools)
            messages = [*self.history(conversation_id), ChatMessage("user", text)]
            max_tokens = self.settings.llm.max_tokens
            guess = local.prefill(messages, max_tokens, tools or None).turn_end
            if not whole:
                turn_end = guess
                if on_guess is not None:
                    on_guess(turn_end)
            # Unless its arguments are all in the words: then the model writes no call to prepare.
            if tool is not None and said is None:
                local.prefill_call(messages, tool, max_tokens, offered=tools)
        elif on_guess is not None:
            on_guess(None)
        return turn_end

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
        origin: float | None = None,
    ) -> Reply:
        """Store the question, stream the answer (speaking each clause as it completes), store the answer.

        The question is committed before generation starts and the answer when it ends, so a crash loses
        at most the answer being generated. A cancelled answer is stored as incomplete.
        """
        question = self._checked(question)
        timings = dict(timings_ms or {})
        start = time.perf_counter()
        local = self.local_llm
        if local is not None:
            # Fail on an oversized question before it is stored, so the history stays usable.
            local.load()
            local.fit([ChatMessage("user", question)], self.settings.llm.max_tokens)
        asked = self.store.add_message(
            conversation_id,
            "user",
            question,
            source=source,
            audio_duration_s=audio_duration_s,
            timings_ms={k: v for k, v in timings.items() if k.startswith("stt")},
        )
        speaker = ReplySpeaker(speech, on_delta)
        filler = self.settings.voice.filler
        chain = ToolChain(
            self.llm,
            lambda: self.executor,
            self.settings,
            local=local if self.settings.plugins.fast_path else None,
            router=self.router,
            before_call=[confirmation(self._ask)],
            dry_run=self.dry_run_tools,
            on_slow_call=(lambda: speaker.aside(filler)) if speech is not None and filler else None,
        )
        finished = False
        try:
            tools = self.tool_schemas(question)
            self.warm(tools)
            chain.run(question, self.history(conversation_id), tools, speaker, cancel)
            finished = True
        finally:
            # Whatever happens (cancel, Ctrl-C, an engine error), keep what was said.
            text = speaker.finish(chain.text, cancelled=chain.cancelled)
            complete = finished and not chain.cancelled and not speaker.interrupted
            # Milestones count from `origin` (a spoken turn: the end of the user's speech), else from now.
            t0 = origin if origin is not None else time.monotonic() - (time.perf_counter() - start)
            timings.update(speaker.timings_ms(t0))
            timings["llm_total_ms"] = chain.stats.total_ms
            message = None
            if text or chain.calls:
                message = self.store.add_message(
                    conversation_id,
                    "assistant",
                    text,
                    timings_ms=timings,
                    complete=complete,
                    tool_calls=chain.calls,
                )
        if speaker.error is not None:
            raise speaker.error
        return Reply(text, complete, chain.stats, timings, message, speaker.marks, chain.calls, asked)

    def _checked(self, question: str) -> str:
        """The question as stored: valid UTF-8 (the user told when it was not), stripped, within limits."""
        # Every client's text comes through here (typed, piped, argv, the window, transcripts): the one
        # place where undecodable bytes become U+FFFD before they reach the store or the tokenizer.
        clean = scrub(question)
        if clean != question and self.notice is not None:
            self.notice(NOT_UTF8)
        question = clean.strip()
        if not question:
            raise InputError("the question is empty; type or say something")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(
                f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}: "
                "shorten it"
            )
        return question
