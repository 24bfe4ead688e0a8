"""`sori bench bfcl`: the Berkeley Function Calling Leaderboard's cases, Sori beside the bare model.

The same sampled cases go through both sides in the same run; each case is scored by BFCL's AST rules
(assistant/bfcl/score.py). A case whose functions cannot all be written as a plugin is skipped on both
sides and listed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from assistant.bfcl.data import Case, data_dir, load, sample
from assistant.bfcl.runners import BareRunner, SoriRunner
from assistant.bfcl.score import score
from assistant.config import Settings
from assistant.errors import InputError

DEFAULT_CATEGORIES = "simple_python,multiple,irrelevance,parallel"


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class _Side:
    """One side's verdicts (None: right), the calls it made and its time per case."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.verdicts: dict[str, str | None] = {}
        self.calls: dict[str, Any] = {}
        self.latencies: list[float] = []

    def run(self, case: Case, call, n: int, of: int) -> None:
        t0 = time.perf_counter()
        calls = call(case)
        self.latencies.append((time.perf_counter() - t0) * 1000)
        self.calls[case.id] = calls
        self.verdicts[case.id] = score(case.category, case.functions, calls, case.answers)
        _progress(f"[{self.label} {n}/{of}] {case.id}: {self.verdicts[case.id] or 'right'}")

    def summary(self, ids: list[str]) -> dict[str, Any]:
        right = sum(self.verdicts[i] is None for i in ids)
        return {"right": right, "accuracy": round(right / len(ids), 3) if ids else None}


def bench_bfcl(settings: Settings, cases: list[Case]) -> dict[str, Any]:
    if settings.llm.server_url:
        raise InputError(
            "bench bfcl compares Sori with the bare model: it needs a local GGUF model, not a server"
        )
    sori, bare = _Side("sori"), _Side("bare")
    runnable: list[Case] = []
    skipped: dict[str, str] = {}
    runner = SoriRunner(settings)
    try:
        llm = runner.assistant.llm
        runner.assistant.warm([])
        for n, case in enumerate(cases, 1):
            names, why = runner.load(case)
            if why:
                skipped[case.id] = "; ".join(why)
                continue
            runnable.append(case)
            sori.run(case, lambda c, names=names: runner.calls(c, names), n, len(cases))
    finally:
        runner.close()
    model = llm.model  # type: ignore[attr-defined]
    baseline = BareRunner(
        model.path,
        n_ctx=llm.context_size,  # type: ignore[attr-defined]
        n_threads=llm.n_threads,  # type: ignore[attr-defined]
        max_tokens=settings.llm.max_tokens,
    )
    try:
        for n, case in enumerate(runnable, 1):
            bare.run(case, baseline.calls, n, len(runnable))
    finally:
        baseline.close()
    categories: dict[str, Any] = {}
    for cat in dict.fromkeys(c.category for c in cases):
        ids = [c.id for c in runnable if c.category == cat]
        categories[cat] = {
            "cases": len(ids),
            "sori": sori.summary(ids),
            "bare": bare.summary(ids),
            "skipped": [f"{c.id}: {skipped[c.id]}" for c in cases if c.category == cat and c.id in skipped],
        }
    return {
        "profile": settings.profile,
        "model": model.name,
        "cases": len(runnable),
        "categories": categories,
        "total": {side.label: side.summary([c.id for c in runnable])["right"] for side in (sori, bare)},
        "latency_ms_p50": {
            side.label: round(statistics.median(side.latencies), 1) if side.latencies else None
            for side in (sori, bare)
        },
        "failures": {
            side.label: [
                {"id": c.id, "question": c.question, "why": side.verdicts[c.id], "calls": side.calls[c.id]}
                for c in runnable
                if side.verdicts[c.id] is not None
            ]
            for side in (sori, bare)
        },
    }


def run_bfcl_bench(args: argparse.Namespace, settings: Settings) -> int:
    data = data_dir(args.data)
    n = args.sample if args.sample is not None else 20
    cases: list[Case] = []
    for cat in (args.categories or DEFAULT_CATEGORIES).split(","):
        cases += sample(load(data, cat.strip()), n, args.seed)
    result = bench_bfcl(settings, cases)
    result.update({"seed": args.seed, "sample": n, "data": str(data)})
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    print(
        f"bench bfcl: profile {result['profile']}, model {result['model']}, seed {args.seed}, "
        f"{n} cases per category from {data}"
    )
    print(f"{'category':24} {'sori':>12} {'bare':>12} {'skipped':>8}")
    for cat, row in result["categories"].items():
        cells = [f"{row[s]['right']}/{row['cases']}" for s in ("sori", "bare")]
        print(f"{cat:24} {cells[0]:>12} {cells[1]:>12} {len(row['skipped']):8}")
    print(f"{'sum':24} {result['total']['sori']:>12} {result['total']['bare']:>12}")
    print(
        f"median time per case: sori {result['latency_ms_p50']['sori']} ms, "
        f"bare {result['latency_ms_p50']['bare']} ms"
    )
    for side in ("sori", "bare"):
        print(f"\n{side} failures:")
        for f in result["failures"][side]:
            print(f"  {f['id']}: {f['why']}  ({f['question'][:90]!r})")
    for cat, row in result["categories"].items():
        for s in row["skipped"]:
            print(f"skipped ({cat}): {s}")
    return 0
