"""Lengths of time as people say them, put into a call exactly: a model asked for "a timer for ten minutes"
may write duration_seconds=10 or 1200 (the small model did, 6 times in 8), while the words say 600.

An integer or number argument whose name gives its unit (`duration_seconds`, `delay_minutes`, `hours`,
`timeout_ms`) gets the one length of time the request names, converted to that unit. With none, or more
than one ("in 5 minutes, for 10 minutes"), the model's value stands.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.llm.toolcall import ToolCall
from assistant.tools.grounding import NUMBER_WORDS

_WORDS = {**NUMBER_WORDS, "a": 1, "an": 1}
_TENS = [w for w, n in NUMBER_WORDS.items() if n >= 20]
_DIGIT_WORDS = [w for w, n in NUMBER_WORDS.items() if 1 <= n <= 9]
_UNIT_SECONDS = {
    "ms": 0.001,
    "millisecond": 0.001,
    "second": 1,
    "sec": 1,
    "minute": 60,
    "min": 60,
    "hour": 3600,
    "hr": 3600,
    "day": 86400,
}

_NUMBER = (
    r"(?P<num>\d+(?:\.\d+)?|(?:"
    + "|".join(_TENS)
    + r")(?:[\s-](?:"
    + "|".join(_DIGIT_WORDS)
    + r"))?|"
    + r"a\s+couple\s+of|a\s+few|"
    + "|".join(sorted(_WORDS, key=len, reverse=True))
    + r")"
)
_UNIT = r"(?P<unit>milliseconds?|ms|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)"
_PHRASE_TEXT = (
    r"\b(?:(?P<half>half\s+an?\s+(?:hour|minute))|"
    + _NUMBER
    + r"(?P<and_half>\s+and\s+a\s+half)?[\s-]+"
    + _UNIT
    + r"(?P<unit_half>\s+and\s+a\s+half)?)\b"
)
_PHRASE = re.compile(_PHRASE_TEXT, re.IGNORECASE)
# The same without its named groups, to put in a tool's request patterns (set_timer's).
DURATION = re.sub(r"\(\?P<\w+>", "(?:", _PHRASE_TEXT)
_JOINED = re.compile(r"\s*(?:,|and)?\s*", re.IGNORECASE)
# The unit an argument's name gives: last part of the name, or the whole of it.
_NAME_UNIT = re.compile(r"(?:^|_)(ms|milliseconds|seconds|secs|s|minutes|mins|hours|hrs|days)$")


def _number(text: str) -> float:
    text = " ".join(text.lower().replace("-", " ").split())
    if text == "a couple of":
        return 2
    if text == "a few":
        return 3
    if text[0].isdigit():
        return float(text)
    return sum(_WORDS[w] for w in text.split())


def _unit(text: str) -> float:
    text = text.lower()
    if text == "ms" or text.startswith("milli"):
        return _UNIT_SECONDS["ms"]
    return next(v for k, v in _UNIT_SECONDS.items() if k != "ms" and text.startswith(k[:3]))


def spoken_durations(text: str) -> list[float]:
    """Each length of time the text names, in seconds: "ten minutes" 600, "an hour and a half" 5400."""
    out: list[float] = []
    end = -1
    for m in _PHRASE.finditer(text):
        if m["half"]:
            seconds = 1800.0 if "hour" in m["half"].lower() else 30.0
        else:
            count = _number(m["num"]) + (0.5 if m["and_half"] or m["unit_half"] else 0.0)
            seconds = count * _unit(m["unit"])
        if out and _JOINED.fullmatch(text[end : m.start()]):
            out[-1] += seconds  # "an hour and 30 minutes" is one length of time
        else:
            out.append(seconds)
        end = m.end()
    return out


def exact_durations(call: ToolCall, tool: dict[str, Any] | None, request: str) -> ToolCall:
    """The call with its length-of-time arguments set from the request's words, where that is exact."""
    if tool is None:
        return call
    spoken = spoken_durations(request)
    if len(spoken) != 1:
        return call
    props = (tool["function"].get("parameters") or {}).get("properties", {})
    arguments = dict(call.arguments)
    for key, value in call.arguments.items():
        if isinstance(value, bool):
            continue
        exact = in_unit(spoken[0], key, props.get(key) or {})
        if exact is not None:
            arguments[key] = exact
    return call if arguments == call.arguments else ToolCall(call.name, arguments)


def in_unit(seconds: float, key: str, schema: dict[str, Any]) -> int | float | None:
    """A length of time as the value of argument `key`, in the unit its name ends with (duration_seconds,
    delay_ms); None when it takes no length of time, or a whole number would not be exact."""
    kind = schema.get("type")
    unit = _NAME_UNIT.search(key.lower())
    if kind not in ("integer", "number") or unit is None:
        return None
    exact = seconds / (1.0 if unit.group(1) == "s" else _unit(unit.group(1)))
    if kind == "integer" and abs(exact - round(exact)) > 1e-9:
        return None  # "1.5 seconds" in whole seconds: not exact
    return round(exact) if kind == "integer" else exact
