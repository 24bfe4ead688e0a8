"""A loaded llama.cpp model's KV cache and next-token probabilities, worked on in place (kvstate.py saves and
restores the cache on disk): how many of a prompt's tokens the cache already holds, cutting it back to
evaluate on from there, and how likely a set of tokens is to come next. Shared by the chat model
(llamacpp.py) and the tool calls it writes (calls.py); all take a llama_cpp.Llama used under its lock.
"""

from __future__ import annotations

from typing import Any


def reusable(llama: Any, tokens: list[int]) -> int:
    """How many leading prompt tokens are already in the KV cache (the last one is always re-run)."""
    reused = 0
    for a, b in zip(llama.input_ids[: llama.n_tokens].tolist(), tokens[:-1], strict=False):
        if a != b:
            break
        reused += 1
    return reused


def rewind(llama: Any, n: int) -> None:
    """Keep the first n evaluated tokens in the KV cache and drop the rest, to evaluate on from there."""
    llama._ctx.kv_cache_seq_rm(-1, n, -1)
    llama.n_tokens = n


def probability(llama: Any, tokens: list[int]) -> float:
    """The probability that one of `tokens` comes next, from the logits of the last token evaluated."""
    import numpy as np

    logits = np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(llama.n_vocab(),)).astype(np.float64)
    logits -= logits.max()
    weights = np.exp(logits)
    return float(weights[sorted(set(tokens))].sum() / weights.sum())
