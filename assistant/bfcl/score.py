"""Scoring a case's calls by the rules of BFCL's AST checker (Python categories).

A call is right when its function is the expected one, every required argument is there, no argument is
unknown, each value has the declared type (an int where a float is declared is fine) and is among the
accepted values (strings compared without case, spaces or ",./-_*^"), and each argument left out is one the
answer marks optional (""). Simple and multiple cases need exactly one call; parallel ones the same number
of calls as the answer, matched in any order; an irrelevance case is right when none of its functions is
called, and a relevance case when one is.
"""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
    "any": str,
}
_NOISE = re.compile(r"[ ,./\-_*^]")

Call = dict[str, dict[str, Any]]  # {function name: {argument: value}}, as BFCL writes calls


def standard(text: str) -> str:
    return _NOISE.sub("", text).lower().replace("'", '"')


def _std(value: Any) -> Any:
    return standard(value) if isinstance(value, str) else value


def _answer_type(accepted: list[Any]) -> type | None:
    return next((type(v) for v in accepted if v != ""), None)


def _dict_ok(value: dict, accepted: list[Any]) -> bool:
    for answer in accepted:
        if answer == "" or not isinstance(answer, dict):
            continue
        if all(k in answer and _std(v) in [_std(a) for a in answer[k]] for k, v in value.items()) and all(
            k in value or "" in opts for k, opts in answer.items()
        ):
            return True
    return False


def _value_ok(value: Any, declared: dict[str, Any], accepted: list[Any]) -> str | None:
    """None when value is acceptable, else why not."""
    kind = declared.get("type", "any")
    want = _TYPES.get(kind, str)
    if kind in ("float", "number") and type(value) is int:
        value = float(value)
    item_kind = (declared.get("items") or {}).get("type") if want is list else None
    if type(value) is not want:
        if type(value) is _answer_type(accepted):  # BFCL's "variable": a value written another way
            return None if value in accepted else f"{value!r} not among {accepted}"
        return f"type {type(value).__name__}, expected {kind}"
    if want is list and item_kind:
        item_type = _TYPES.get(item_kind, str)
        if item_type is float:
            value = [float(v) if type(v) is int else v for v in value]
        if any(type(v) is not item_type for v in value):
            return f"items of {value!r} are not all {item_kind}"
    if want is dict:
        return None if _dict_ok(value, accepted) else f"{value!r} not among {accepted}"
    if want is list and _TYPES.get(item_kind or "") is dict:
        for answer in accepted:
            if (
                isinstance(answer, list)
                and len(answer) == len(value)
                and all(_dict_ok(v, [a]) for v, a in zip(value, answer, strict=True))
            ):
                return None
        return f"{value!r} not among {accepted}"
    if want is str:
        ok = standard(value) in [standard(a) for a in accepted if isinstance(a, str)]
        return None if ok else f"{value!r} not among {accepted}"
    if want is list:
        std = [_std(v) for v in value]
        ok = std in [[_std(v) for v in a] for a in accepted if isinstance(a, list)]
        return None if ok else f"{value!r} not among {accepted}"
    return None if value in accepted else f"{value!r} not among {accepted}"


def call_errors(function: dict[str, Any], call: Call, answer: Call) -> str | None:
    """None when call is what answer accepts for function, else the first reason it is not."""
    ((expected_name, accepted),) = answer.items()
    ((name, args),) = call.items()
    if name != expected_name:
        return f"called {name}, expected {expected_name}"
    params = function.get("parameters") or {}
    props = params.get("properties") or {}
    missing = [p for p in params.get("required", []) if p not in args]
    if missing:
        return f"{name}: missing {', '.join(missing)}"
    for arg, value in args.items():
        if arg not in props or arg not in accepted:
            return f"{name}: unexpected argument {arg}"
        if why := _value_ok(value, props[arg], accepted[arg]):
            return f"{name}.{arg}: {why}"
    left_out = [a for a, opts in accepted.items() if a not in args and "" not in opts]
    if left_out:
        return f"{name}: left out {', '.join(left_out)}"
    return None


def score(category: str, functions: list[dict], calls: list[Call], answers: list[Call] | None) -> str | None:
    """None when the case is right, else why not."""
    names = {f["name"] for f in functions}
    called = [n for c in calls for n in c if n in names]
    if "irrelevance" in category:
        return f"called {', '.join(called)}" if called else None
    if "relevance" in category:  # any call to one of its functions will do
        return None if called else "no call"
    answers = answers or []
    if not calls:
        return "no call"
    if len(calls) != len(answers):
        return f"{len(calls)} calls, expected {len(answers)}: {', '.join(n for c in calls for n in c)}"
    by_name = {f["name"]: f for f in functions}
    left = list(range(len(calls)))
    for answer in answers:
        function = by_name.get(next(iter(answer)), {})
        reasons = [call_errors(function, calls[i], answer) for i in left]
        hit = next((i for i, why in zip(left, reasons, strict=True) if why is None), None)
        if hit is None:
            return reasons[0] if len(reasons) == 1 else "; ".join(r for r in reasons if r)
        left.remove(hit)
    return None
