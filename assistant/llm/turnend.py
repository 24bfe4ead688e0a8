"""The end-of-turn guess read from a prompt being evaluated: where the user's words end in its tokens, and
how likely the model finds it that the sentence (or the turn) ends right there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from assistant.llm import ChatMessage
from assistant.llm.kvcache import probability

CLOSING = ".?!…\"'”’)"  # what Whisper may put after the last word

# Messages and tools to prompt tokens (the chat's own formatting).
Tokenize = Callable[[Sequence[ChatMessage], list[dict] | None], list[int]]


def sentence_end_ids(texts: list[str]) -> list[int]:
    """The vocabulary's tokens that end a sentence (".", "?", "!"), from every token's text."""
    return [i for i, t in enumerate(texts) if t[:1] in ".?!" and not t.startswith("..")]


def _divergence(
    tokenize: Tokenize,
    messages: Sequence[ChatMessage],
    tools: list[dict] | None,
    tokens: list[int],
    text: str,
) -> int | None:
    """Where `tokens` and the same prompt with the last message's words replaced by `text` part."""
    other = tokenize([*messages[:-1], ChatMessage("user", text)], tools)
    n = next((i for i, (a, b) in enumerate(zip(tokens, other, strict=False)) if a != b), None)
    return n if n is not None and 0 < n < len(tokens) - 1 else None


def words_end(
    tokenize: Tokenize, messages: Sequence[ChatMessage], tools: list[dict] | None, tokens: list[int]
) -> int | None:
    """Where the last user message's words end in `tokens`, before any closing punctuation."""
    if not messages or messages[-1].role != "user":
        return None
    words = messages[-1].content.rstrip().rstrip(CLOSING).rstrip()
    return _divergence(tokenize, messages, tools, tokens, words + " zq") if words else None


def sentence_end(
    llama: Any,
    end_ids: list[int],
    tokenize: Tokenize,
    messages: Sequence[ChatMessage],
    tools: list[dict] | None,
    tokens: list[int],
) -> float | None:
    """P(a full stop, question mark, exclamation mark or the template's end of turn comes next), read from
    the logits of a prompt evaluated up to the user's last word."""
    turn_mark = _divergence(tokenize, messages, tools, tokens, messages[-1].content + " zq")
    if turn_mark is None:
        return None
    return probability(llama, [tokens[turn_mark], *end_ids])
