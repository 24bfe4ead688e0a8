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

from assistant import models
from assistant.config import Settings
from assistant.errors import InputError
from assistant.llm import ChatMessage, ChatModel, Generation, GenerationStats
from assistant.speech import SpeechOutput
from assistant.store import ConversationStore, Message
from assistant.stt import SpeechToText, Transcription
from assistant.text.utf8 import NOT_UTF8, scrub
from assistant.tools.phrasing import phrase
from assistant.tts import TextToSpeech

if TYPE_CHECKING:
    from assistant.tools.router import ToolRouter

# Far beyond any spoken or typed question; longer input is a paste accident, not a question.
MAX_QUESTION_CHARS = 20_000
MAX_TOOL_STEPS = 5  # model calls per turn: tool rounds plus the final answer
MAX_TOOL_RETRIES = 2  # failed calls (bad arguments, errors) the model may retry before it must answer
FILLER_AFTER_S = 1.0  # a tool slower than this gets "One moment." said while it runs


@dataclass
class Reply:
    text: str
    complete: bool
    stats: GenerationStats
    timings_ms: dict[str, float] = field(default_factory=dict)
    message: Message | None = None
    marks: dict[str, float] = field(default_factory=dict)
    tool_calls: list[dict] = field(default_factory=list)


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
                from assistant.tts.select import VoiceSwitch, make_engine

                self._tts = VoiceSwitch(make_engine(self.settings.tts.voice, self.settings))
            return self._tts

    def set_voice(self, value: str) -> None:
        """Speak with another voice from the next sentence on; built and loaded before the switch, so a
        voice that cannot be used raises here and the current one keeps speaking."""
        from assistant.tts.select import make_engine

        engine = make_engine(value, self.settings)
        load = getattr(engine, "load", None)
        if load is not None:
            load()
        with self._build_lock:
            if self._tts is None:
                from assistant.tts.select import VoiceSwitch

                self._tts = VoiceSwitch(engine)
            else:
                self._tts.switch(engine)  # type: ignore[attr-defined]

    # -- one turn ----------------------------------------------------------------------------------
    def transcribe(self, audio: np.ndarray | str | Path, *, translate: bool = False) -> Transcription:
        return self.stt.transcribe(audio, language=self.settings.stt.language or None, translate=translate)

    def history(self, conversation_id: int) -> list[ChatMessage]:
        """The conversation as the model sees it, tool calls and their results included."""
        from assistant.llm.toolcall import ToolCall

        msgs = [ChatMessage("system", self.settings.llm.system_prompt)]
        for m in self.store.messages(conversation_id):
            if m.role == "assistant" and m.tool_calls:
                calls = [c for c in m.tool_calls if "name" in c]
                msgs.append(
                    ChatMessage(
                        "assistant", "", tuple(ToolCall(c["name"], c.get("arguments", {})) for c in calls)
                    )
                )
                msgs += [ChatMessage("tool", str(c.get("content", ""))) for c in calls]
            if m.role in ("user", "assistant") and m.text:
                msgs.append(ChatMessage(m.role, m.text))  # type: ignore[arg-type]
        return msgs

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
                self._tools = ToolRegistry(dirs, builtin_dir=BUILTIN_DIR)
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
                    confirm=self._confirm,
                )
            return self._executor

    def _confirm(self, sentence: str) -> bool:
        if self.confirm is None:
            from assistant.tools.errors import NobodyToAsk

            raise NobodyToAsk(sentence)
        return bool(self.confirm(sentence))

    def warm(self, tools: list[dict] | None = None) -> None:
        """Load the chat model and get its fixed prompt prefix ready (from the disk cache when saved)."""
        from assistant import paths

        llm = self.llm
        llm.load()
        if hasattr(llm, "warm"):
            schemas = self.tool_schemas() if tools is None else tools
            llm.warm(self.settings.llm.system_prompt, schemas or None, paths.data_dir() / "cache")

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

    def prefill(self, conversation_id: int, question: str) -> None:
        """Prepare the model for a likely question (speculative end of turn); a no-op for servers."""
        llm = self.llm
        if hasattr(llm, "prefill") and question.strip() and len(question) <= MAX_QUESTION_CHARS:
            # The same prompt reply() will build, tool schemas included, or the work is wasted.
            tools = self.tool_schemas(question.strip())
            # The system+tools prefix from its saved state first (milliseconds), as reply() does; without
            # this the prefill evaluated that prefix from scratch, seconds longer than the reply it served.
            self.warm(tools)
            messages = [*self.history(conversation_id), ChatMessage("user", question.strip())]
            llm.prefill(messages, self.settings.llm.max_tokens, tools or None)

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
        splitter = None
        if speech is not None:
            from assistant.text.splitter import SentenceSplitter

            splitter = SentenceSplitter()
        marks: dict[str, float] = {}  # pipeline-clock (monotonic) times of this turn's milestones
        calls: list[dict] = []
        texts: list[str] = []
        finished = cancelled = False
        invalid = 0
        stats = GenerationStats()

        def show(delta: str) -> None:
            marks.setdefault("first_token", time.monotonic())
            if on_delta is not None:
                on_delta(delta)
            if splitter is not None and speech is not None:
                for chunk in splitter.push(delta):
                    marks.setdefault("first_tts_chunk", time.monotonic())
                    speech.say(chunk)

        try:
            tools = self.tool_schemas(question)
            self.warm(tools)
            messages = self.history(conversation_id)
            seen: set[str] = set()
            allow_calls = True
            last = None  # the last tool result, for a template answer when the model gives none
            fast = self._fast_path_call(question, messages, tools)
            for _step in range(MAX_TOOL_STEPS):
                if fast is not None:
                    gen, fast = fast, None
                else:
                    # Whether to call a tool is a decision, not prose: sampled at 0.7 the same request
                    # ran its tool one time and was answered from memory the next.
                    cfg = self.settings.llm
                    gen = llm.generate(
                        messages,
                        max_tokens=cfg.max_tokens,
                        temperature=cfg.tool_temperature if tools else cfg.temperature,
                        cancel=cancel,
                        tools=tools or None,
                        allow_calls=allow_calls,
                    )
                    for delta in gen:
                        show(delta)
                stats = gen.stats
                cancelled = gen.cancelled
                if gen.text.strip():
                    texts.append(gen.text.strip())
                if gen.confused and tools and not cancelled:
                    tools = []  # offered tools only confused the model: ask again without them
                    continue
                if cancelled or not gen.tool_calls:
                    break
                grounded = ground_calls(gen.tool_calls, tools, messages)
                if grounded is None:
                    tools = []  # a required argument nobody said (copied from an example): answer instead
                    continue
                fresh = [c for c in grounded if _call_key(c) not in seen]
                if not fresh or not allow_calls:
                    if last is not None and not allow_calls:
                        # Asked to answer, the model wrote another call: say the result plainly instead.
                        show(phrase(last))
                        texts.append(phrase(last))
                        break
                    allow_calls = False  # the same call again: small models loop; make it answer now
                    continue
                messages.append(ChatMessage("assistant", gen.text, tuple(fresh)))
                for call in fresh:
                    seen.add(_call_key(call))
                    last = self._run_tool(call, speech, len(calls) == 0)
                    calls.append(last.to_dict())
                    messages.append(ChatMessage("tool", last.content))
                    invalid += int(not last.ok)
                if (
                    gen.stats.finish_reason == "fast_path"
                    and self.settings.plugins.fast_path_reply == "template"
                ):
                    show(phrase(last))
                    texts.append(phrase(last))
                    break
                if invalid > MAX_TOOL_RETRIES or _step >= MAX_TOOL_STEPS - 2:
                    allow_calls = False  # enough tool rounds: the next step must answer
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
            finished = True
        finally:
            # Whatever happens (cancel, Ctrl-C, an engine error), keep what was said.
            text = " ".join(texts).strip()
            speech_error: BaseException | None = None
            if splitter is not None and speech is not None:
                if not cancelled:
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
            complete = finished and not cancelled and not (speech is not None and speech.interrupted)
            # Milestones count from `origin` (a spoken turn: the end of the user's speech), else from now.
            t0 = origin if origin is not None else time.monotonic() - (time.perf_counter() - start)
            for name, t in marks.items():
                timings[f"{name}_ms"] = (t - t0) * 1000
            timings["llm_total_ms"] = stats.total_ms
            message = None
            if text or calls:
                message = self.store.add_message(
                    conversation_id,
                    "assistant",
                    text,
                    timings_ms=timings,
                    complete=complete,
                    tool_calls=calls,
                )
        if speech_error is not None:
            raise speech_error
        return Reply(text, complete, stats, timings, message, marks, calls)

    def _fast_path_call(self, question: str, messages: list[ChatMessage], tools: list[dict]):
        """A request that plainly matches one tool: call it at once, arguments filled in under its grammar.

        Skips the model's free-text decision (and its chance to answer from memory instead of the tool).
        Returns a finished Generation holding the call, or None to take the normal path.
        """
        llm = self.llm
        if not (tools and self.settings.plugins.fast_path and hasattr(llm, "forced_call")):
            return None
        name = self.router().confident(question)
        tool = next((t for t in tools if t["function"]["name"] == name), None)
        if tool is None:
            return None
        gen = Generation()
        calls = llm.forced_call(messages, tool, self.settings.llm.max_tokens, offered=tools)
        # Optional arguments nobody said are left out; a made-up required one: let the model decide.
        gen.tool_calls = ground_calls(calls, tools, messages) or []
        gen.stats.finish_reason = "fast_path"
        return gen if gen.tool_calls else None

    def _run_tool(self, call, speech: SpeechOutput | None, first: bool):
        """Run one tool call; say the filler once if it is slow and Sori is speaking."""
        if speech is None or not first or not self.settings.voice.filler:
            return self.executor.call(call.name, call.arguments, dry_run=self.dry_run_tools)
        done = threading.Event()
        timer = threading.Timer(
            FILLER_AFTER_S, lambda: done.is_set() or speech.say(self.settings.voice.filler)
        )
        timer.start()
        try:
            return self.executor.call(call.name, call.arguments, dry_run=self.dry_run_tools)
        finally:
            done.set()
            timer.cancel()


def ground_calls(calls: list, tools: list[dict], messages: list[ChatMessage]) -> list | None:
    """The calls without arguments nobody said in the conversation (None: a required one was made up).

    The system prompt, where the tools' descriptions and their examples are, does not count.
    """
    from assistant.tools.grounding import ground_calls as ground

    return ground(calls, tools, [m.content for m in messages if m.role != "system"])


def _call_key(call) -> str:
    import json

    return call.name + json.dumps(call.arguments, sort_keys=True, default=str)
