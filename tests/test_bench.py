"""The benchmark commands run Sori's engine and the bare library side by side and print their ratio.

Each runs as a user runs it (a process of its own), on a few of the shared recordings and sentences: what is
tested is that both sides are measured on the same work and reported, not the figures themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench  # `make test-bench`: minutes of model work, outside `make test`

UTTERANCES = ("q01_capital.wav", "q02_time.wav", "q07_joke.wav")  # q07 is the one barge-in asks


@pytest.fixture
def bench_data(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shared/ folder with one long recording, three questions and two Harvard sentences."""
    data = tmp_path / "shared"
    (data / "audio").mkdir(parents=True)
    (data / "eval" / "utterances").mkdir(parents=True)
    (data / "audio" / "jfk.flac").symlink_to(shared / "audio" / "jfk.flac")
    source = shared / "eval" / "utterances"
    for name in UTTERANCES:
        (data / "eval" / "utterances" / name).symlink_to(source / name)
    rows = (source / "transcripts.tsv").read_text().splitlines()
    rows = [r for r in rows if r.split("\t")[0] in UTTERANCES]
    (data / "eval" / "utterances" / "transcripts.tsv").write_text("\n".join(rows) + "\n")
    harvard = (shared / "eval" / "harvard.txt").read_text().splitlines()
    (data / "eval" / "harvard.txt").write_text("\n".join(harvard[:2]) + "\n")
    monkeypatch.setenv("SORI_SHARED_DIR", str(data))
    return data


@pytest.mark.parametrize(
    "target,metrics",
    [
        ("stt", {"rtf"}),
        ("tts", {"rtf", "first_chunk_ms"}),
        # A reused prefix must answer sooner than a cold prompt: only on a machine doing nothing else.
        pytest.param(
            "llm",
            {"cold_first_token_ms", "reused_prefix_first_token_ms", "tool_call_ms", "tok_s"},
            marks=pytest.mark.alone,
        ),
    ],
)
def test_bench_json(sori, config_file, bench_data, target, metrics):
    if target == "llm":  # alone on the machine: the threads a user's Sori would use
        config_file.write_text(config_file.read_text().replace("n_threads = 1", "n_threads = 0"))
    r = sori("bench", target, "--runs", "1", "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["sori"]) == set(out["bare"]) == set(out["ratio"]) == metrics
    assert all(v > 0 for v in out["sori"].values()) and all(v > 0 for v in out["bare"].values())
    # Sanity, not a timing target: both sides measured the same work.
    assert all(0.2 < r < 5 for r in out["ratio"].values()), out
    if target == "llm":
        assert out["sori"]["reused_prefix_first_token_ms"] < out["sori"]["cold_first_token_ms"]


def test_bench_latency_and_barge_in(sori, bench_data):
    r = sori("bench", "latency", "--runs", "1", "--limit", "2", "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"p50_ms", "p90_ms", "baseline_p50_ms", "baseline_p90_ms", "runs", "stages_ms"} <= set(out)
    assert out["runs"] == 2 and 0 < out["p50_ms"] <= out["p90_ms"]
    assert out["baseline_p50_ms"] > 0  # both pipelines measured; which is faster is the benchmark's to show
    assert list(out["stages_ms"])[-1] == "first_audio_ms"
    # The pause set, as many recordings of each kind as --limit: each turn decided, none inside a pause.
    pauses = out["pauses"]
    assert pauses["paused"]["decided"] == pauses["complete"]["decided"] == 2
    assert pauses["false_cutoffs"] == [] and pauses["undecided"] == []
    r = sori("bench", "barge-in", "--runs", "2", "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["runs"] == 2 and 0 < out["stop_ms_p50"] <= out["stop_ms_max"]
    r = sori("bench", "barge-in", "--runs", "1", timeout=600)
    assert "user speech onset -> playback stopped" in r.stdout


def test_bench_tools(sori, tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"utterance": "What is 17 times 23?", "tool": "calculate",'
        ' "args": {"expression": {"evaluates_to": 391}}}\n'
        '{"utterance": "What is the capital of France?", "tool": null, "args": {}}\n'
    )
    r = sori("bench", "tools", "--cases", str(cases), "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"tool_accuracy", "args_accuracy", "cases", "fast_path", "failures"} <= set(out)
    assert out["cases"] == 2 and out["fast_path"] is True and out["without_fast_path"]["fast_path"] is False
    assert out["tool_accuracy"] == 1.0 and out["args_accuracy"] == 1.0, out["failures"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    r = sori("bench", "tools", "--cases", str(bad))
    assert r.returncode != 0 and "bad.jsonl:1" in r.stderr and "Traceback" not in r.stderr
