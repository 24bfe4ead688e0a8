"""Arguments taken as they were said: a tool's pattern names them (a regular expression's named group,
"in (?P<location>...)"), and when they are all its call needs, the fast path calls it without the model
writing them (on a 2-core laptop, half a second for a place name on the default model).

Only where that is exact: every required parameter and every optional one the words may fill is named by
the matching pattern, and each value converts to its parameter's type (a number said as digits or one
word, a length of time in the unit an argument's name ends with, a choice among an enum's values);
otherwise the model writes the call as before.
"""

from __future__ import annotations

from typing import Any

import regex

from assistant.tools.durations import in_unit, spoken_durations
from assistant.tools.grounding import NUMBER_WORDS, without_unsaid_options
from assistant.tools.router import ToolRouter

# A name as said: one to four capitalized words ("Oslo", "New York City", "St. Louis"; Whisper capitalizes
# them), case-sensitive inside a pattern that ignores case. A full stop belongs to it only inside ("St.").
_WORD = r"(?-i:[A-Z](?:[\w'-]|\.(?=\s*\w))*)"
PROPER_NAME = rf"{_WORD}(?:\s+{_WORD}){{0,3}}"
_NAME = regex.compile(PROPER_NAME)


def said_arguments(router: ToolRouter, tool: dict[str, Any], request: str) -> dict[str, Any] | None:
    """The call's arguments from the request's words, when its pattern names all it needs; else None."""
    fn = tool["function"]
    groups = router.arguments(request, fn["name"])
    if groups is None:
        return None
    params = fn.get("parameters") or {}
    props = params.get("properties", {})
    # The parameters the words may fill: the required ones, and optional ones unless nothing is left to
    # say them (without_unsaid_options).
    trimmed = without_unsaid_options(tool, request)["function"].get("parameters") or {}
    needed = set(params.get("required", [])) | set(trimmed.get("properties", {}))
    if not needed <= set(groups):
        return None
    args = {}
    for key, text in groups.items():
        if key not in props:
            continue
        value = _typed(text.strip(), key, props[key] or {})
        if value is None:
            return None
        args[key] = value
    return args


def bounded(args: dict[str, Any], tool: dict[str, Any]) -> bool:
    """Every value said is whole in itself: a number, a length of time, a choice, a name ("Oslo"); not
    free text that may go on ("that", of "Add a note that ...")."""
    props = (tool["function"].get("parameters") or {}).get("properties", {})

    def whole(key: str, value: Any) -> bool:
        if not isinstance(value, str) or "enum" in (props.get(key) or {}):
            return True
        return _NAME.fullmatch(value) is not None

    return bool(args) and all(whole(k, v) for k, v in args.items())


def _typed(text: str, key: str, schema: dict[str, Any]) -> Any:
    if not text:
        return None
    lengths = spoken_durations(text)
    if len(lengths) == 1 and (value := in_unit(lengths[0], key, schema)) is not None:
        return value  # "10 minutes" for duration_seconds: 600
    if "enum" in schema:
        return next((v for v in schema["enum"] if str(v).lower() == text.lower()), None)
    kind = schema.get("type")
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        return text
    if kind in ("integer", "number"):
        if text.isdigit():
            return int(text)
        if text.lower() in NUMBER_WORDS:
            return NUMBER_WORDS[text.lower()]
        if kind == "number":
            try:
                return float(text)
            except ValueError:
                return None
    return None
