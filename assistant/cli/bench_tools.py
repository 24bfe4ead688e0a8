"""`sori bench tools`: tool choice and argument accuracy on a file of cases, fast path on and off.

Each case goes through the same path as a typed message (router, fast path, model, grammar), with tools in
dry-run mode: the call is recorded, not executed. Case format: ../shared/eval/README.md.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.core import Assistant
from assistant.errors import InputError
from assistant.store import ConversationStore


def load_cases(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the cases ({exc.strerror})") from None
    cases = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                case = json.loads(line)
                if "utterance" not in case or "tool" not in case:
                    raise ValueError("needs utterance and tool")
            except ValueError as exc:
                raise InputError(f"{path}:{n}: not a tool-call case ({exc})") from None
            cases.append(case)
    return cases


def matches(expected: Any, actual: Any, evaluate) -> bool:
    """One argument matcher from the case format: a literal, {"contains": ...} or {"evaluates_to": ...}."""
    if isinstance(expected, dict) and "contains" in expected:
        return isinstance(actual, str) and expected["contains"].lower() in actual.lower().replace("_", " ")
    if isinstance(expected, dict) and "evaluates_to" in expected:
        try:
            return abs(float(evaluate(str(actual))) - float(expected["evaluates_to"])) < 1e-6
        except Exception:  # an expression the evaluator rejects does not match
            return False
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return isinstance(actual, int | float) and abs(actual - expected) < 1e-9
    return expected == actual


def run_cases(assistant: Assistant, cases: list[dict], fast_path: bool) -> dict[str, Any]:
    settings = assistant.settings.model_copy(deep=True)
    settings.plugins.fast_path = fast_path
    assistant.settings = settings
    assistant.dry_run_tools = True
    calc = assistant.tools.tools.get("calculate")

    def evaluate(expr: str) -> float:
        if calc is None:
            raise ValueError("no calculator")
        return calc.fn(expr)["result"]

    tool_ok = args_ok = args_total = 0
    failures, latencies = [], []
    for case in cases:
        conv = assistant.store.new_conversation(title="bench tools")
        start = time.perf_counter()
        reply = assistant.reply(conv.id, case["utterance"])
        latencies.append((time.perf_counter() - start) * 1000)
        first = reply.tool_calls[0] if reply.tool_calls else None
        chosen = first["name"] if first else None
        right_tool = chosen == case["tool"]
        tool_ok += right_tool
        bad_args = []
        if case["tool"] is not None and right_tool:
            args_total += 1
            bad_args = [
                k
                for k, v in case.get("args", {}).items()
                if not matches(v, first["arguments"].get(k), evaluate)
            ]
            args_ok += not bad_args
        if not right_tool or bad_args:
            failures.append(
                {
                    "utterance": case["utterance"],
                    "expected": case["tool"],
                    "called": chosen,
                    "arguments": first["arguments"] if first else None,
                    "wrong_args": bad_args,
                }
            )
    return {
        "tool_accuracy": round(tool_ok / len(cases), 3),
        "args_accuracy": round(args_ok / args_total, 3) if args_total else None,
        "cases": len(cases),
        "fast_path": fast_path,
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_max": round(max(latencies), 1),
        "failures": failures,
    }


def bench_tools(assistant: Assistant, cases_path: Path) -> dict[str, Any]:
    cases = load_cases(cases_path)
    with tempfile.TemporaryDirectory() as tmp:
        assistant._store = ConversationStore(Path(tmp) / "bench.sqlite3")
        assistant.warm()
        with_fast = run_cases(assistant, cases, fast_path=True)
        without = run_cases(assistant, cases, fast_path=False)
        assistant.store.close()
    return {**with_fast, "without_fast_path": without, "profile": assistant.settings.profile}
