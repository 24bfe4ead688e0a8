"""Whether to call a tool: the model's own probability of starting a call, against a calibrated threshold.

Greedy decoding calls a tool only when a call's first token beats every word of prose. A small model that
has never seen a tool often puts a third of its probability on the call and the rest on an explanation
("To find that, you can use the `deck_of_cards_odds` function…"), and greedy takes the prose. So at the
answer's first token the probability of every way a call starts (the template's call tag, bare or fenced
JSON) is summed: at or above the threshold the call tag is chosen and the call is written under the
tools' grammar; below it, those tokens are banned and the model answers in words. The threshold is
`[plugins] call_threshold`, calibrated on BFCL's development cases (docs in assistant/bfcl/README.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Said to the model whenever tools are offered, after the user's system prompt: a small model otherwise
# explains how a tool could be called instead of calling it, and talks about the tools it was not given.
TOOL_RULE = (
    "If one of the tools can do what the user asks or answer the question, reply with only the tool call. "
    "Otherwise answer in plain sentences without mentioning the tools."
)
_CALL_STARTS = ("{", "[", "```")


def call_start_ids(texts: list[str], opener: list[int]) -> list[int]:
    """The tokens (`texts`: the vocabulary) a call can start with: the call tag, JSON or a code fence."""
    found = set(opener[:1])
    for i, text in enumerate(texts):
        # "Ġ" and "Ċ" are a leading space and newline in GPT-2 style vocabularies.
        if text.lstrip(" \u0120\u010a\n").startswith(_CALL_STARTS):
            found.add(i)
    return sorted(found)


class CallDecision:
    """A logits processor for the answer's first token: call (force the tag) or answer (ban the starts).

    `p` is the probability the model gave a call, for the record; None until the first token.
    """

    def __init__(self, starts: list[int], opener: int, threshold: float) -> None:
        self.starts = np.asarray(starts, dtype=np.intp)
        self.opener = opener
        self.threshold = threshold
        self.p: float | None = None

    def __call__(self, _input_ids: Any, scores: np.ndarray) -> np.ndarray:
        if self.p is not None:
            return scores
        logits = scores.astype(np.float64)
        weights = np.exp(logits - logits.max())
        self.p = float(weights[self.starts].sum() / weights.sum())
        scores = scores.copy()
        if self.p >= self.threshold:
            scores[self.opener] = scores.max() + 10.0
        else:
            scores[self.starts] = -np.inf
        return scores
