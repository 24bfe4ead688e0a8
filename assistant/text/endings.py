"""Whether a transcript sounds like the end of what the speaker meant to say.

Whisper ends a finished sentence with punctuation; a pause mid-sentence ("set a timer for,") comes out
with a trailing comma or a bare word. The voice loop keeps such a turn open a little longer, and answers
a plainly finished question at the first short silence.
"""

from __future__ import annotations

import re

_UNFINISHED_WORDS = {
    "and",
    "but",
    "or",
    "so",
    "because",
    "the",
    "a",
    "an",
    "to",
    "of",
    "with",
    "if",
    "that",
    "my",
    "your",
    "is",
    "are",
    "for",
    "in",
    "on",
    "at",
    "then",
}


def sounds_unfinished(text: str) -> bool:
    """Whether a transcript stops mid-sentence (a trailing comma, or a word that needs a continuation)."""
    text = text.strip()
    # Whisper ends a finished sentence with punctuation; bare words mean it heard a pause mid-sentence.
    return stops_mid_phrase(text) or (bool(text) and text[-1].isalnum())


def stops_mid_phrase(text: str) -> bool:
    """A trailing comma, dash or ellipsis, or a last word that needs a continuation ("for", "and")."""
    text = text.strip()
    if not text:
        return False
    if text[-1] in ",;:-–—" or text.endswith(("...", "…")):
        return True
    return re.sub(r"[^a-z']", "", text.split()[-1].lower()) in _UNFINISHED_WORDS


def is_clear_question(text: str) -> bool:
    """A finished question of a few words ("What time is it in Tokyo?"): worth answering without waiting
    for the end-of-turn silence."""
    text = text.strip()
    return text.endswith("?") and len(text.split()) >= 3


__all__ = ["is_clear_question", "sounds_unfinished", "stops_mid_phrase"]
