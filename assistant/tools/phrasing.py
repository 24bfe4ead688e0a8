"""A plain sentence for a tool result, without asking the model (the fast path's template reply).

Tools that want their own wording return a dict with "spoken" or "message"; everything else gets a short
generic rendering of its most useful fields.
"""

from __future__ import annotations

import json
from typing import Any

from assistant.tools.executor import NOT_ASKED, ToolResult


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def phrase(result: ToolResult) -> str:
    if result.confirmed is False and (result.error or "").startswith(NOT_ASKED):
        return "I did not do it: it needs your yes, and there is no terminal to ask on here (use sori chat)."
    if result.confirmed is False:
        return "All right, I did not do it."
    if not result.ok:
        return f"Sorry, that did not work: {result.error or result.content}"
    try:
        data = json.loads(result.content)
    except (json.JSONDecodeError, TypeError):
        return result.content
    if isinstance(data, dict):
        for key in ("spoken", "message", "summary"):
            if isinstance(data.get(key), str):
                return data[key]
        if "expression" in data and "result" in data:
            return f"{data['expression'].rstrip('?').strip()} is {data['result']}."
        if "duration" in data and "label" in data:
            label = f" for {data['label']}" if data.get("label") else ""
            return f"Timer set{label}: {data['duration']}."
        if isinstance(data.get("saved"), dict):
            return f"Noted: {data['saved'].get('text', '')}"
        if "conditions" in data and "location" in data:
            temp = data.get("temperature_c", data.get("temperature"))
            return f"In {data['location']} it is {data['conditions']}" + (
                f", {temp} °C." if temp is not None else "."
            )
        lists = [v for v in data.values() if isinstance(v, list)]
        if lists:
            items = lists[0]
            shown = [
                str(x.get("text") or x.get("label") or x.get("name") or x) if isinstance(x, dict) else str(x)
                for x in items[:5]
            ]
            return f"{len(items)} found" + (": " + "; ".join(shown) + "." if shown else ".")
        parts = [f"{k.replace('_', ' ')}: {v}" for k, v in data.items() if _scalar(v)][:4]
        return "; ".join(parts) + "." if parts else "Done."
    if isinstance(data, list):
        return ", ".join(map(str, data[:10])) + "."
    return str(data)
