"""Chat LLM: the engine Protocols (any chat model, and one Sori runs itself), messages, statistics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str
    # An assistant message that calls tools: ToolCall objects (assistant.llm.toolcall).
    tool_calls: tuple = ()

    def to_dict(self) -> dict:
        out: dict = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_message() for c in self.tool_calls]
        return out


def last_user_text(messages: Sequence[ChatMessage]) -> str:
    """The request a turn answers: the last user message's text ("" if there is none)."""
    return next((m.content for m in reversed(messages) if m.role == "user"), "")


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    # Prompt tokens actually evaluated: the rest were reused from the cached prefix.
    prompt_tokens_evaluated: int = 0
    completion_tokens: int = 0
    # Oldest history messages left out so the prompt fits the context window.
    dropped_messages: int = 0
    first_token_ms: float | None = None
    total_ms: float = 0.0
    finish_reason: str = ""

    @property
    def tokens_per_s(self) -> float:
        gen_ms = self.total_ms - (self.first_token_ms or 0.0)
        return (
            (self.completion_tokens - 1) / (gen_ms / 1000)
            if gen_ms > 0 and self.completion_tokens > 1
            else 0.0
        )


@dataclass
class Generation:
    """An answer being streamed: iterate for text deltas; text and stats are complete afterwards."""

    stats: GenerationStats = field(default_factory=GenerationStats)
    text: str = ""
    cancelled: bool = False
    tool_calls: list = field(default_factory=list)  # ToolCall objects the model asked for
    confused: bool = False  # it wrote a call to a tool it was not offered (small models do)
    _deltas: Iterator[str] = iter(())

    def __iter__(self) -> Iterator[str]:
        for delta in self._deltas:
            self.text += delta
            yield delta

    def stream(self, chunks: Iterator[str], cancel: threading.Event | None) -> None:
        """Attach the backend's delta iterator, adding timing, token counts and cancellation."""
        self._deltas = self._timed(chunks, cancel)

    def _timed(self, chunks: Iterator[str], cancel: threading.Event | None) -> Iterator[str]:
        stats = self.stats
        start = time.perf_counter()
        try:
            for delta in chunks:
                if cancel is not None and cancel.is_set():
                    self.cancelled = True
                    stats.finish_reason = "cancelled"
                    break
                if not delta:
                    continue
                if stats.first_token_ms is None:
                    stats.first_token_ms = (time.perf_counter() - start) * 1000
                stats.completion_tokens += 1
                yield delta
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # stops the backend between tokens
            stats.total_ms = (time.perf_counter() - start) * 1000


@dataclass(frozen=True)
class Prefilled:
    """What a prefill did: prompt tokens evaluated now, and how likely the user's message ends there.

    turn_end: the probability the model gives its chat template's end-of-turn token right after the last
    user message (about 0.8-1.0 for "Tell me a joke.", under 0.01 for "Set a timer for"); None when it
    could not be read (that prompt was already evaluated, or the template marks no end of turn).
    """

    evaluated: int
    turn_end: float | None = None


@runtime_checkable
class ChatModel(Protocol):
    name: str

    def load(self) -> None:
        """Get ready for the first question (load the weights, or check the server answers)."""
        ...

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
        """Stream an answer; stops between tokens once cancel is set.

        With tools (OpenAI-format schemas) the model may call them instead of answering: the calls are
        in Generation.tool_calls afterwards and their text is never streamed. allow_calls=False keeps the
        tools in the prompt but makes the model answer in words.
        """
        ...


@runtime_checkable
class LocalChatModel(ChatModel, Protocol):
    """A chat model Sori runs itself, so it can also prepare prompts ahead and constrain a call.

    A server (OpenAICompatChat) is a plain ChatModel: it has none of these abilities.
    """

    def warm(self, system_prompt: str, tools: list[dict] | None, cache_dir: Path | None = None) -> str:
        """Have the fixed prompt prefix (system prompt, tool schemas) evaluated before the first question."""
        ...

    def prefill(
        self, messages: Sequence[ChatMessage], max_tokens: int = 512, tools: list[dict] | None = None
    ) -> Prefilled:
        """Evaluate a likely prompt ahead of time (ending with the user's message, perhaps unfinished)."""
        ...

    def fit(
        self, messages: Sequence[ChatMessage], max_tokens: int, tools: list[dict] | None = None
    ) -> tuple[list[int], list[str], int, int]:
        """The prompt that fits the context (oldest history dropped); InputError when even one question does
        not. Returns the prompt tokens, stop strings, how many messages were dropped, and the answer's room.
        """
        ...

    def forced_call(
        self,
        messages: Sequence[ChatMessage],
        tool: dict,
        max_tokens: int = 512,
        offered: list[dict] | None = None,
    ) -> list:
        """Call `tool` now, its arguments generated under its schema's grammar (ToolCall objects)."""
        ...

    def prefill_call(
        self,
        messages: Sequence[ChatMessage],
        tool: dict,
        max_tokens: int = 512,
        offered: list[dict] | None = None,
    ) -> None:
        """Evaluate ahead of time the prompt forced_call() with the same arguments starts from."""
        ...
