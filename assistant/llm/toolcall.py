"""Tool calls in model output: parsing what models write, and the grammar that keeps small models valid.

Models announce a call in different ways: Qwen2.5 writes <tool_call>{"name": ..., "arguments": {...}}
</tool_call>; others write a fenced ```json block or bare JSON. All three are accepted. Where Sori runs the
model itself, the JSON after <tool_call> is generated under a JSON-schema grammar built from the tools'
schemas, so the name is always a known tool and the arguments always parse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

TOOL_OPEN = "<tool_call>"
TOOL_CLOSE = "</tool_call>"
_FENCED = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.S)
_TAGGED = re.compile(r"<tool_call>\s*(\{.*?\})\s*(?:</tool_call>|$)", re.S)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        """The OpenAI shape chat templates render."""
        return {"type": "function", "function": {"name": self.name, "arguments": self.arguments}}


def _call_from(obj: Any) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI shape
        obj = obj["function"]
    name = obj.get("name")
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    if not isinstance(name, str) or not isinstance(args, dict):
        return None
    return ToolCall(name, args)


def _json_objects(text: str) -> list[Any]:
    """Every top-level JSON value that parses, scanning left to right."""
    decoder = json.JSONDecoder()
    out, i = [], 0
    while (start := text.find("{", i)) != -1:
        try:
            obj, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            i = start + 1
            continue
        out.append(obj)
        i = end
    return out


def parse_tool_calls(text: str) -> list[ToolCall]:
    """Tool calls in a reply: tagged, fenced, or bare JSON objects with a name and arguments."""
    for pattern in (_TAGGED, _FENCED):
        found = [c for m in pattern.finditer(text) for o in _json_objects(m.group(1)) if (c := _call_from(o))]
        if found:
            return found
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        objs = _json_objects(stripped)
        flat = [x for o in objs for x in (o if isinstance(o, list) else [o])]
        return [c for o in flat if (c := _call_from(o))]
    return []


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """No arguments beyond the declared ones: without this the grammar lets a model invent keys (a tool
    without parameters got {"type": "object", ...} as its arguments)."""
    if schema.get("type") == "object" and "additionalProperties" not in schema:
        return {**schema, "properties": schema.get("properties", {}), "additionalProperties": False}
    return schema


def call_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON schema of one call to any of `tools` (OpenAI-format schemas), for constrained decoding."""
    options = []
    for t in tools:
        fn = t["function"]
        options.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": fn["name"]},
                    "arguments": _closed(fn.get("parameters") or {"type": "object"}),
                },
                "required": ["name", "arguments"],
            }
        )
    return options[0] if len(options) == 1 else {"anyOf": options}


def held_back(text: str) -> int:
    """How many trailing characters might be the start of TOOL_OPEN (not yet safe to show or speak)."""
    for n in range(min(len(TOOL_OPEN) - 1, len(text)), 0, -1):
        if TOOL_OPEN.startswith(text[-n:]):
            return n
    return 0
