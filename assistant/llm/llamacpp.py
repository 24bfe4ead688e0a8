"""llama.cpp through llama-cpp-python: streaming, prefix reuse, context trimming, pinned chat format.

Beside it: chatformat.py picks the chat format, calls.py writes tool calls under the tools' grammar,
turnend.py reads the end-of-turn guess during a prefill, and kvcache.py holds the KV cache and next-token
probability helpers the others use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from assistant import interrupt
from assistant.errors import EngineError, InputError
from assistant.llm import ChatMessage, Generation, Prefilled, last_user_text
from assistant.llm.calls import Adds, CallWriter, Left
from assistant.llm.chatformat import GGUF_TEMPLATE, make_formatter, with_tool_prompt
from assistant.llm.decide import TOOL_RULE, CallDecision, call_start_ids
from assistant.llm.kvcache import reusable, rewind
from assistant.llm.kvstate import load_state, prune, save_state
from assistant.llm.toolcall import TOOL_OPEN, ToolCall, held_back, parse_tool_calls
from assistant.llm.turnend import sentence_end, sentence_end_ids, words_end
from assistant.models import ResolvedModel

# Always leave room for at least this many answer tokens when trimming history.
_MIN_ANSWER_TOKENS = 64
# Each tool set the router offers has its own prefix, 5 to 40 MB on disk: the least recently used go.
MAX_SAVED_PREFIXES = 24


def _stop_requested(_data: object) -> bool:
    if not interrupt.STOP.is_set():
        return False
    logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL)  # its note on the abort is not for users
    return True


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def default_threads() -> int:
    # llama.cpp is memory-bound: physical cores, not hyperthreads; leave one for audio and UI when we can.
    n = os.cpu_count() or 2
    return max(1, n - 1) if n > 4 else n


class LlamaCppChat:
    """A GGUF chat model (a LocalChatModel). Loaded on first use; one lock, so one worker thread owns it at
    a time."""

    def __init__(
        self,
        model: ResolvedModel,
        *,
        chat_format: str = "",
        context_size: int = 0,
        n_threads: int = 0,
        n_gpu_layers: int = -1,
        seed: int = -1,
        call_threshold: float = 0.35,
    ) -> None:
        self.model = model
        self.name = model.name
        self.chat_format = chat_format or str(model.setting("chat_format", GGUF_TEMPLATE))
        self.context_size = context_size or int(model.setting("context_size", 4096))
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = n_gpu_layers
        self.seed = seed
        self.call_threshold = call_threshold
        self._llama: Any = None
        self._formatter: Any = None
        self._template_has_tools = False
        self._end_ids: list[int] = []  # tokens that end a sentence (".", "?", "!")
        self._call_starts: list[int] = []  # tokens a tool call can start with
        self._opener: int | None = None  # the call tag, when it is one token
        self._calls = CallWriter()  # writes the calls under the tools' grammar (calls.py)
        self._lock = threading.Lock()

    # -- loading -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Free the model now; left to interpreter shutdown, llama.cpp can crash while Python tears down."""
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> Any:
        if self._llama is not None:
            return self._llama
        import llama_cpp

        layers = self.n_gpu_layers
        if layers < 0:
            layers = -1 if gpu_offload_supported() else 0
        try:
            llama = llama_cpp.Llama(
                model_path=str(self.model.path),
                n_ctx=self.context_size,
                # The prompt's threads too: left unset, llama.cpp takes every core for them, and threads that
                # wait for each other at every step on a busy core make a prompt many times slower.
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_gpu_layers=layers,
                seed=self.seed if self.seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise EngineError(
                f"chat model {self.name} failed to load from {self.model.path} ({exc}); the file may be "
                "truncated or not a llama.cpp model: check it with 'sori models verify' or pick another"
            ) from None
        self._formatter, self._template_has_tools = make_formatter(llama, self.chat_format, self.name)
        # Checked by llama.cpp during every decode: a Ctrl-C in `sori ask` ends even a long prompt's
        # evaluation. Kept on self, as llama.cpp holds only the pointer.
        self._abort = llama_cpp.ggml_abort_callback(_stop_requested)
        llama_cpp.llama_set_abort_callback(llama.ctx, self._abort, None)
        self.n_gpu_layers_used = layers
        # Tokens that end a sentence, for the end-of-turn guess: found once here (about 0.1 s over the
        # vocabulary), not during the first spoken turn.
        texts = [llama._model.token_get_text(i) for i in range(llama.n_vocab())]
        self._end_ids = sentence_end_ids(texts)
        opener = llama.tokenize(TOOL_OPEN.encode("utf-8"), add_bos=False, special=True)
        self._opener = opener[0] if len(opener) == 1 else None
        self._call_starts = call_start_ids(texts, opener)
        self._calls.scan(texts)
        self._llama = llama
        return llama

    # -- prompts -----------------------------------------------------------------------------------
    def _tokens(
        self, messages: Sequence[ChatMessage], tools: list[dict] | None = None
    ) -> tuple[list[int], list[str]]:
        dicts = [m.to_dict() for m in messages]
        if tools and dicts and dicts[0]["role"] == "system":
            dicts[0] = {**dicts[0], "content": f"{dicts[0]['content']}\n\n{TOOL_RULE}"}
        if tools and not self._template_has_tools:
            dicts = with_tool_prompt(dicts, tools)
        kwargs = {"tools": tools} if tools and self._template_has_tools else {}
        result = self._formatter(messages=dicts, **kwargs)
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        add_bos = not getattr(result, "added_special", False)
        tokens = self._llama.tokenize(result.prompt.encode("utf-8"), add_bos=add_bos, special=True)
        return tokens, stop

    def _prompt_tokens(self, messages: Sequence[ChatMessage], tools: list[dict] | None) -> list[int]:
        return self._tokens(messages, tools)[0]

    def fit(
        self, messages: Sequence[ChatMessage], max_tokens: int, tools: list[dict] | None = None
    ) -> tuple[list[int], list[str], int, int]:
        """Keep the system prompt and the newest messages that fit.

        Returns the prompt tokens, stop strings, how many messages were dropped, and the answer's room.
        """
        answer_room = max(_MIN_ANSWER_TOKENS, min(max_tokens, self.context_size // 2))
        budget = self.context_size - answer_room
        system = [m for m in messages[:1] if m.role == "system"]
        history = list(messages[len(system) :])
        dropped = 0
        while True:
            tokens, stop = self._tokens(system + history, tools)
            if len(tokens) <= budget:
                break
            if len(history) <= 1:
                raise InputError(
                    f"the question is too long for {self.name}: about {len(tokens):,} tokens, the model's "
                    f"context holds {self.context_size:,}; shorten it"
                )
            # Drop the oldest exchange; never start the kept history with an assistant or tool turn.
            history.pop(0)
            dropped += 1
            while history and history[0].role != "user" and len(history) > 1:
                history.pop(0)
                dropped += 1
        return tokens, stop, dropped, min(max_tokens, self.context_size - len(tokens))

    # -- the fixed prefix (system prompt and tool schemas), kept on disk --------------------------------
    def warm(self, system_prompt: str, tools: list[dict] | None, cache_dir: Path | None = None) -> str:
        """Have the system prompt (and tool schemas) evaluated in the KV cache before the first question.

        With many tools this prefix is over a thousand tokens: seconds of prompt evaluation on a laptop CPU.
        It is evaluated once, saved under cache_dir and loaded in milliseconds on later starts. Returns
        "cached", "loaded" or "evaluated".
        """
        with self._lock:
            llama = self._load_locked()
            probe = [
                self._tokens([ChatMessage("system", system_prompt), ChatMessage("user", w)], tools)[0]
                for w in ("a", "b")
            ]
            n = next(
                (i for i, (a, b) in enumerate(zip(*probe, strict=False)) if a != b), min(map(len, probe))
            )
            prefix = probe[0][:n]
            reused = reusable(llama, [*prefix, 0])
            if not prefix or reused >= len(prefix):
                return "cached"
            path = None
            if cache_dir is not None:
                digest = hashlib.sha256(
                    json.dumps(
                        [str(self.model.path), self.model.path.stat().st_size, self.context_size, prefix]
                    ).encode()
                ).hexdigest()[:32]
                path = cache_dir / f"prefix-{digest}.kv"
                if path.is_file() and load_state(llama, path, prefix):
                    os.utime(path)  # recently used: kept when old ones are pruned
                    return "loaded"
            # Only what differs is evaluated: a plugin added or changed alters the end of the tool list.
            rewind(llama, reused)
            llama.eval(prefix[reused:])
            if path is not None:
                save_state(llama, path)
                prune(path.parent, "prefix-*.kv", MAX_SAVED_PREFIXES)
            return "evaluated"

    # -- generation --------------------------------------------------------------------------------
    def prefill(
        self, messages: Sequence[ChatMessage], max_tokens: int = 512, tools: list[dict] | None = None
    ) -> Prefilled:
        """Evaluate a likely prompt ahead of time (while the user may still be speaking).

        The next generate() with the same prompt then only evaluates its last token. On the way, the
        logits right after the user's last word tell how likely the sentence ends there (a full stop, a
        question mark or the end of the turn next): the same evaluation read one step early, so the guess
        costs nothing extra. Whisper's own closing punctuation is left out of the guess, as it puts a "?"
        after "What is seven times" as readily as after a finished question.
        """
        with self._lock:
            llama = self._load_locked()
            tokens, _, _, _ = self.fit(messages, max_tokens, tools)
            reused = reusable(llama, tokens)
            tokenize = self._prompt_tokens
            cut = words_end(tokenize, messages, tools, tokens)
            if cut is not None:
                # Words already evaluated (the same start said again): re-run the last of them for its logits.
                reused = min(reused, cut - 1)
            todo = tokens[reused:-1]
            turn_end = None
            rewind(llama, reused)
            if cut is not None:
                llama.eval(tokens[reused:cut])
                turn_end = sentence_end(llama, self._end_ids, tokenize, messages, tools, tokens)
                llama.eval(tokens[cut:-1])
            elif todo:
                llama.eval(todo)
            return Prefilled(len(todo), turn_end)

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        cancel: threading.Event | None = None,
        tools: list[dict] | None = None,
        allow_calls: bool = True,
    ) -> Generation:
        gen = Generation()
        gen.stream(
            self._run(gen, list(messages), max_tokens, temperature, tools or None, allow_calls), cancel
        )
        return gen

    def _run(
        self,
        gen: Generation,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        tools: list[dict] | None,
        allow_calls: bool = True,
    ) -> Iterator[str]:
        from llama_cpp import LogitsProcessorList

        with self._lock:
            llama = self._load_locked()
            tokens, stop, dropped, room = self.fit(messages, max_tokens, tools)
            reused = reusable(llama, tokens)
            gen.stats.prompt_tokens = len(tokens)
            gen.stats.prompt_tokens_evaluated = len(tokens) - reused
            gen.stats.dropped_messages = dropped
            bias = None
            decision = None
            answer_only = bool(tools) and not allow_calls
            if answer_only:
                # The tools stay in the prompt (its cached prefix stays valid) but the call token is banned.
                bias = {self._opener: -100.0} if self._opener is not None else None
            elif tools and self._opener is not None:
                decision = CallDecision(self._call_starts, self._opener, self.call_threshold)
            stream = llama.create_completion(
                prompt=tokens,
                max_tokens=room,
                temperature=temperature,
                stop=stop,
                stream=True,
                logit_bias=bias,
                # Never with logit_bias: llama-cpp-python's list.extend() would leave no processor at all.
                logits_processor=LogitsProcessorList([decision]) if decision else None,
            )
            text, shown, calling = "", 0, False
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    if choice.get("finish_reason"):
                        gen.stats.finish_reason = choice["finish_reason"]
                    piece = choice.get("text", "")
                    if not tools:
                        yield piece
                        continue
                    text += piece
                    if TOOL_OPEN in text and not answer_only:
                        calling = True
                        break
                    if text.lstrip().startswith(("{", "```", "[")):
                        if '"name"' in text and not answer_only:
                            # A call written as bare or fenced JSON: redone under the grammar like a tagged
                            # one, so it cannot name an unknown tool or invent arguments.
                            calling = True
                            break
                        yield ""  # maybe a call as bare or fenced JSON: held back, yet cancellable
                        continue
                    safe = len(text) - held_back(text)
                    if safe > shown:
                        yield text[shown:safe]
                        shown = safe
            finally:
                stream.close()
            if not tools:
                return
            if calling:
                preamble = text[: text.index(TOOL_OPEN)] if TOOL_OPEN in text else ""
                if len(preamble) > shown:
                    yield preamble[shown:]
                request = last_user_text(messages)
                gen.tool_calls = self._calls.write(llama, tokens, preamble, tools, *_judges(request))
                gen.stats.finish_reason = "tool_calls"
                return
            held_json = text.lstrip().startswith(("{", "```", "["))
            calls = parse_tool_calls(text) if held_json else []
            known = {t["function"]["name"] for t in tools}
            if calls and all(c.name in known for c in calls):
                gen.tool_calls = calls
                gen.stats.finish_reason = "tool_calls"
            elif calls or (held_json and '"name"' in text):
                gen.confused = True  # a call to a tool that does not exist: not an answer to show
            elif len(text) > shown:
                yield text[shown:]

    def prefill_call(
        self,
        messages: Sequence[ChatMessage],
        tool: dict,
        max_tokens: int = 512,
        offered: list[dict] | None = None,
    ) -> None:
        """Evaluate the prompt forced_call() will start from (the call's opening after the prompt)."""
        with self._lock:
            llama = self._load_locked()
            tokens, _, _, _ = self.fit(messages, max_tokens, offered or [tool])
            opening = self._calls.opening([tool]).encode("utf-8")
            tokens = tokens + llama.tokenize(opening, add_bos=False, special=True)
            reused = reusable(llama, tokens)
            rewind(llama, reused)
            if tokens[reused:-1]:
                llama.eval(tokens[reused:-1])  # the last one is run by the call, for its logits

    def forced_call(
        self,
        messages: Sequence[ChatMessage],
        tool: dict,
        max_tokens: int = 512,
        offered: list[dict] | None = None,
    ) -> list:
        """The fast path: call this tool now, with arguments the model fills in under its schema's grammar.

        `offered`: the tools the prompt lists (default: just this one). Listing the same tools as the
        speculative prefill did keeps that prompt evaluation useful; the grammar still allows only `tool`.
        """
        from assistant.tools.grounding import without_unsaid_options

        request = last_user_text(messages)
        with self._lock:
            llama = self._load_locked()
            tokens, _, _, _ = self.fit(messages, max_tokens, offered or [tool])
            writing = without_unsaid_options(tool, request)  # the prompt still lists all of it
            return self._calls.write(llama, tokens, "", [writing], *_judges(request))


def _judges(request: str) -> tuple[Adds, Left]:
    """For the calls of one answer: another is kept when it does more with the request (the last user
    message) than those before; another is written when the request lists a value none has used."""
    from assistant.tools.grounding import adds_something, said_words, values_left

    said = said_words([request])

    def adds(call: ToolCall, earlier: list[ToolCall]) -> bool:
        return adds_something(call, earlier, said)

    return adds, lambda calls: values_left(calls, request)
