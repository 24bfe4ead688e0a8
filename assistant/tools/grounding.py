"""Arguments the user never said: a call's text arguments must come from the conversation.

A grammar makes a call valid JSON for the tool's schema, but not true: asked to "set a timer for five
minutes", a small model filled in label="laundry", the example in set_timer's docstring. So a text argument
with words of its own (beyond the tool's name) must share one with what was said in the conversation: an
optional one that does not is left out (the tool's default applies). A required one is the model's to work
out ("the capital of France" -> "Paris", "euros" -> "EUR"), unless its words come from the tool's own
description: then it was copied from an example, and the call is not what the user asked for. A value from
a declared list of choices (an enum) is a choice, never made up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from assistant.llm.toolcall import ToolCall

from .router import _STOP, _stem

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# Number words as values ("nine" is said where a call has 9); durations.py reads lengths of time with them.
NUMBER_WORDS = {**{w: i for i, w in enumerate(_ONES)}, **{w: 20 + 10 * i for i, w in enumerate(_TENS)}}
_VALUES = {w: str(n) for w, n in NUMBER_WORDS.items()}


def said_words(texts: Iterable[str]) -> set[str]:
    """The stemmed words (and numbers, "nine" as 9 too) of what was said, to check arguments against."""
    said = {w for text in texts for w in _words(text)}
    spoken = {_VALUES[w] for text in texts for w in re.findall(r"[a-z]+", text.lower()) if w in _VALUES}
    return said | spoken


def _words(text: str) -> set[str]:
    found = re.findall(r"[a-z]+|\d+", text.lower().replace("_", " "))
    return {_stem(w) for w in found if w not in _STOP}


def invented(value: str, said: set[str], tool_name: str) -> bool:
    """Whether a text argument has words of its own and none of them was said."""
    own = _words(value) - _words(tool_name)  # "timer" in a set_timer label adds nothing either way
    return bool(own) and not own & said


def _descriptions(node: Any, choices: bool = False) -> Iterable[str]:
    """Every description in a tool's schema, nested ones included; with `choices`, every enum value too."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield value
            elif key == "enum" and isinstance(value, list):
                if choices:
                    yield from (str(v) for v in value)
            else:
                yield from _descriptions(value, choices)
    elif isinstance(node, list):
        for item in node:
            yield from _descriptions(item, choices)


def _vocabulary(schema: Any) -> set[str]:
    """The words of a parameter's descriptions and of its choices."""
    return set().union(*(_words(text) for text in _descriptions(schema, choices=True)))


def _is_choice(schema: Any) -> bool:
    return isinstance(schema, dict) and (
        "enum" in schema or any(_is_choice(s) for s in schema.get("anyOf", []))
    )


def ground(call: ToolCall, tool: dict[str, Any] | None, said: set[str]) -> ToolCall | None:
    """The call without the optional text arguments nobody said, or None if a required one was copied
    from the tool's description."""
    if tool is None:
        return call
    params = tool["function"].get("parameters") or {}
    props, required = params.get("properties", {}), set(params.get("required", []))
    described: set[str] | None = None
    kept: dict[str, Any] = {}
    for key, value in call.arguments.items():
        if value is None and key not in required:
            continue  # a null for an optional argument is the argument left out: its default applies
        if isinstance(value, str) and not _is_choice(props.get(key)) and invented(value, said, call.name):
            if key not in required:
                continue  # left out: the tool's default, not a guess
            if described is None:
                described = said_words(_descriptions(tool["function"]))
            if (_words(value) - _words(call.name)) & described:
                return None
        kept[key] = value
    return call if kept == call.arguments else ToolCall(call.name, kept)


def without_unsaid_options(tool: dict[str, Any], request: str) -> dict[str, Any]:
    """The tool with only its required parameters when the request has no word left for an optional one:
    none beyond what the tool's name and description and its required parameters' names and descriptions
    say (numbers too, when a required parameter takes one). A small model fills optional arguments in
    anyway ("set a timer for 10 minutes": label="breakfast", ten tokens, half a second) and grounding then
    drops them; a call asked for in fewer words ("set a pasta timer ...") keeps them all."""
    fn = tool["function"]
    params = fn.get("parameters") or {}
    props = params.get("properties", {})
    required = [k for k in params.get("required", []) if k in props]
    if len(required) == len(props):
        return tool
    own = _words(fn["name"])
    for key in required:
        own |= _words(key) | set().union(*(_words(d) for d in _descriptions(props[key])))
    # An optional parameter's own words (its name, description, choices) are left for it even where the
    # tool's description mentions them ("such as the presence of a patio": amenities=["Patio"]).
    optional = set().union(*(_words(k) | _vocabulary(props[k]) for k in props if k not in required)) - own
    left = _words(request) - ((own | _words(fn.get("description", ""))) - optional)
    if any((props[k] or {}).get("type") in ("integer", "number") for k in required):
        left = {w for w in left if not w.isdigit()}
    if left:
        return tool
    trimmed = {**params, "properties": {k: props[k] for k in required}, "required": required}
    return {**tool, "function": {**fn, "parameters": trimmed}}


def adds_something(call: ToolCall, earlier: list[ToolCall], said: set[str]) -> bool:
    """Whether another call in the same answer does something the user asked that the earlier ones did
    not: a value of the request they left out ("Paris and Oslo": Oslo), or a tool the request names
    ("the weather and the time in Tokyo": get_time). Given the chance, a small model asked for one thing
    writes the same call again with a word changed, a place nobody named, or tools nobody asked for."""
    done = set().union(*(_words(e.name) | _value_words(e.arguments) for e in earlier))
    return bool(((_words(call.name) | _value_words(call.arguments)) - done) & said)


def _value_words(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_value_words(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_value_words(v) for v in value))
    return _words(str(value)) if value is not None else set()


def ground_calls(calls: Iterable[ToolCall], tools: list[dict[str, Any]], texts: Iterable[str]) -> list | None:
    """Each call grounded in `texts` (the conversation so far), or None if one made up a required argument."""
    said = said_words(texts)
    by_name = {t["function"]["name"]: t for t in tools}
    out = []
    for call in calls:
        kept = ground(call, by_name.get(call.name), said)
        if kept is None:
            return None
        out.append(kept)
    return out


_TOKEN = re.compile(r"\d+(?:\.\d+)?|[A-Za-z][\w'-]*|[,&]")
_JOINS = {"and", ",", "&"}
_SKIP = {"the", "a", "an", "in", "of", "for"}


def _listed(request: str) -> set[str]:
    """The values on either side of each "and", comma or "&": numbers and capitalized words."""
    tokens = _TOKEN.findall(request)
    found = set()
    for i, token in enumerate(tokens):
        if token.lower() not in _JOINS:
            continue
        for step in (-1, 1):
            j = i + step
            while 0 <= j < len(tokens) and tokens[j].lower() in _SKIP:
                j += step
            if 0 < j < len(tokens) and (tokens[j][0].isdigit() or tokens[j][0].isupper()):
                found.add(tokens[j])
    return found


def values_left(calls: list[ToolCall], request: str) -> bool:
    """Whether a request that lists values ("Paris and Oslo", "radius 5 and 10", "2018, 2020") has one
    that no call so far has used. The model's own P(another call) falls as low for "5 and 10" after the
    call for 5 as after a single request's only call (1e-5 to 1e-3 on development cases), so such a
    request gets another call written either way; it is kept only if it adds something (adds_something)."""
    if not calls:
        return False
    used = set().union(*(_value_words(c.arguments) for c in calls))
    return any(_words(value) - used for value in _listed(request))
