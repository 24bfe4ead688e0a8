"""The decision to call a tool at the answer's first token, on made-up logits: milliseconds."""

from __future__ import annotations

import numpy as np

from assistant.llm.decide import CallDecision

PROSE, OPEN, BRACE, FENCE = 0, 1, 2, 3
STARTS = [OPEN, BRACE, FENCE]


def logits(**probs: float) -> np.ndarray:
    """Logits over a 6-token vocabulary: the given probabilities, the two other words share what is left,
    and a token not named gets almost none."""
    p = np.full(6, 1e-9)
    p[4:] = (1.0 - sum(probs.values())) / 2
    for name, value in probs.items():
        p[globals()[name.upper()]] = value
    return np.log(p).astype(np.single)


def test_a_call_the_model_half_believes_in_is_made():
    # Greedy would write prose (0.5); the call's ways of starting hold 0.4 together.
    decide = CallDecision(STARTS, OPEN, threshold=0.3)
    scores = decide(None, logits(prose=0.5, brace=0.25, fence=0.15))
    assert decide.p is not None and abs(decide.p - 0.4) < 0.02
    assert int(np.argmax(scores)) == OPEN


def test_below_the_threshold_the_answer_is_prose_and_cannot_start_a_call():
    decide = CallDecision(STARTS, OPEN, threshold=0.5)
    scores = decide(None, logits(prose=0.3, brace=0.35, open=0.05))
    assert decide.p is not None and abs(decide.p - 0.4) < 0.02
    assert np.all(np.isneginf(scores[STARTS]))
    assert int(np.argmax(scores)) not in STARTS


def test_only_the_first_token_is_decided():
    decide = CallDecision(STARTS, OPEN, threshold=0.3)
    decide(None, logits(prose=0.9))
    later = logits(brace=0.9)
    assert decide(None, later) is later  # the call's own JSON, later in the answer, is left alone
