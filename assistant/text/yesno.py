"""Reading a spoken or typed answer to a yes/no question ("Open example.org in your browser?")."""

from __future__ import annotations

import re

_YES = {
    "yes", "yeah", "yep", "yup", "sure", "ok", "okay", "affirmative", "correct", "absolutely",
    "certainly", "definitely", "alright", "y",
}
_NO = {"no", "nope", "nah", "cancel", "stop", "don't", "dont", "negative", "n", "never", "not"}
_YES_PHRASES = ("go ahead", "do it", "of course", "all right", "that's right", "sounds good")
_NO_PHRASES = ("never mind", "do not", "no thanks", "not now", "forget it")


def parse_yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when the answer says neither (or both: "yes, no, wait")."""
    lowered = text.lower().replace("’", "'")
    words = set(re.findall(r"[a-z']+", lowered))
    yes = bool(words & _YES) or any(p in lowered for p in _YES_PHRASES)
    no = bool(words & _NO) or any(p in lowered for p in _NO_PHRASES)
    if yes == no:
        return None
    return yes
