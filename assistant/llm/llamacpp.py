"""llama.cpp through llama-cpp-python: streaming, prefix reuse, context trimming, pinned chat format."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from assistant.errors import ConfigError, EngineError, InputError
from assistant.llm import ChatMessage, Generation
from assistant.models import ResolvedModel

# Always leave room for at least this many answer tokens when trimming history.
_MIN_ANSWER_TOKENS = 64
GGUF_TEMPLATE = "gguf"  # chat_format value meaning: the chat template stored in the GGUF file


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def default_threads() -> int:
    # llama.cpp is memory-bound: physical cores, not hyperthreads; leave one for audio and UI when we can.
    n = os.cpu_count() or 2
    return max(1, n - 1) if n > 4 else n


class LlamaCppChat:
    """A GGUF chat model. Loaded on first use; one lock, so one worker thread owns it at a time."""

    def __init__(
        self,
        model: ResolvedModel,
        *,
        chat_format: str = "",
        context_size: int = 0,
        n_threads: int = 0,
        n_gpu_layers: int = -1,
        seed: int = -1,
    ) -> None:
        self.model = model
        self.name = model.name
        self.chat_format = chat_format or str(model.setting("chat_format", GGUF_TEMPLATE))
        self.context_size = context_size or int(model.setting("context_size", 4096))
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = n_gpu_layers
        self.seed = seed
        self._llama: Any = None
        self._formatter: Any = None
        self._lock = threading.Lock()

    # -- loading -----------------------------------------------------------------------------------
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
                n_threads=self.n_threads,
                n_gpu_layers=layers,
                seed=self.seed if self.seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise EngineError(
                f"chat model {self.name} failed to load from {self.model.path} ({exc}); the file may be "
                "truncated or not a llama.cpp model: check it with 'sori models verify' or pick another"
            ) from None
        self._formatter = self._make_formatter(llama)
        self.n_gpu_layers_used = layers
        self._llama = llama
        return llama

    def _make_formatter(self, llama: Any) -> Any:
        from llama_cpp import llama_chat_format as lcf

        if self.chat_format == GGUF_TEMPLATE:
            template = llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise ConfigError(
                    f"chat model {self.name} has no chat template inside; set llm.chat_format in the config "
                    "(for example chatml, llama-3, mistral-instruct, gemma)"
                )
            eos, bos = llama.token_eos(), llama.token_bos()
            return lcf.Jinja2ChatFormatter(
                template=template,
                eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
                stop_token_ids=[eos],
            )
        # llama-cpp-python names its formatters format_<name> ("llama-3" -> format_llama3).
        formatter = getattr(
            lcf, "format_" + self.chat_format.replace("-", "").replace(".", ""), None
        ) or getattr(lcf, "format_" + self.chat_format.replace("-", "_"), None)
        if formatter is None:
            raise ConfigError(
                f"llm.chat_format '{self.chat_format}' is not a chat format llama-cpp-python knows; use "
                f"'{GGUF_TEMPLATE}' for the model's own template, or one of: chatml, llama-3, llama-2, "
                "mistral-instruct, gemma, phi-3, zephyr, vicuna"
            )
        return formatter

    # -- prompts -----------------------------------------------------------------------------------
    def _tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], list[str]]:
        result = self._formatter(messages=[{"role": m.role, "content": m.content} for m in messages])
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        add_bos = not getattr(result, "added_special", False)
        tokens = self._llama.tokenize(result.prompt.encode("utf-8"), add_bos=add_bos, special=True)
        return tokens, stop

    def fit(self, messages: Sequence[ChatMessage], max_tokens: int) -> tuple[list[int], list[str], int, int]:
        """Keep the system prompt and the newest messages that fit.

        Returns the prompt tokens, stop strings, how many messages were dropped, and the answer's room.
        """
        answer_room = max(_MIN_ANSWER_TOKENS, min(max_tokens, self.context_size // 2))
        budget = self.context_size - answer_room
        system = [m for m in messages[:1] if m.role == "system"]
        history = list(messages[len(system) :])
        dropped = 0
        while True:
            tokens, stop = self._tokens(system + history)
            if len(tokens) <= budget:
                break
            if len(history) <= 1:
                raise InputError(
                    f"the question is too long for {self.name}: about {len(tokens):,} tokens, the model's "
                    f"context holds {self.context_size:,}; shorten it"
                )
            # Drop the oldest exchange; never start the kept history with an assistant turn.
            history.pop(0)
            dropped += 1
            while history and history[0].role != "user" and len(history) > 1:
                history.pop(0)
                dropped += 1
        return tokens, stop, dropped, min(max_tokens, self.context_size - len(tokens))

    def count_tokens(self, text: str) -> int:
        with self._lock:
            llama = self._load_locked()
            return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    # -- generation --------------------------------------------------------------------------------
    @staticmethod
    def _reusable(llama: Any, tokens: list[int]) -> int:
        """How many leading prompt tokens are already in the KV cache (the last one is always re-run)."""
        reused = 0
        for a, b in zip(llama.input_ids[: llama.n_tokens].tolist(), tokens[:-1], strict=False):
            if a != b:
                break
            reused += 1
        return reused

    def prefill(self, messages: Sequence[ChatMessage], max_tokens: int = 512) -> int:
        """Evaluate a likely prompt ahead of time (while the user may still be speaking).

        The next generate() with the same prompt then only evaluates its last token. Returns the number
        of tokens evaluated now.
        """
        with self._lock:
            llama = self._load_locked()
            tokens, _, _, _ = self.fit(messages, max_tokens)
            reused = self._reusable(llama, tokens)
            todo = tokens[reused:-1]
            if todo:
                llama._ctx.kv_cache_seq_rm(-1, reused, -1)
                llama.n_tokens = reused
                llama.eval(todo)
            return len(todo)

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        cancel: threading.Event | None = None,
    ) -> Generation:
        gen = Generation()
        gen.stream(self._run(gen, list(messages), max_tokens, temperature), cancel)
        return gen

    def _run(
        self, gen: Generation, messages: list[ChatMessage], max_tokens: int, temperature: float
    ) -> Iterator[str]:
        with self._lock:
            llama = self._load_locked()
            tokens, stop, dropped, room = self.fit(messages, max_tokens)
            reused = self._reusable(llama, tokens)
            gen.stats.prompt_tokens = len(tokens)
            gen.stats.prompt_tokens_evaluated = len(tokens) - reused
            gen.stats.dropped_messages = dropped
            stream = llama.create_completion(
                prompt=tokens, max_tokens=room, temperature=temperature, stop=stop, stream=True
            )
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    if choice.get("finish_reason"):
                        gen.stats.finish_reason = choice["finish_reason"]
                    yield choice.get("text", "")
            finally:
                stream.close()
