"""The benchmark commands run Sori's engine and the bare library side by side and print their ratio."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    "target,metrics",
    [
        ("stt", {"rtf"}),
        ("tts", {"rtf", "first_chunk_ms"}),
        ("llm", {"cold_first_token_ms", "reused_prefix_first_token_ms", "tok_s"}),
    ],
)
def test_bench_json(sori, target, metrics):
    r = sori("bench", target, "--runs", "1", "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["sori"]) == set(out["bare"]) == set(out["ratio"]) == metrics
    assert all(v > 0 for v in out["sori"].values()) and all(v > 0 for v in out["bare"].values())
    # Sanity, not a timing target: both sides measured the same work.
    assert all(0.2 < r < 5 for r in out["ratio"].values()), out
    if target == "llm":
        assert out["sori"]["reused_prefix_first_token_ms"] < out["sori"]["cold_first_token_ms"]
