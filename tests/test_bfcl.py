"""`sori bench bfcl`: BFCL functions as plugin files, BFCL's scoring rules, the bench with the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.bfcl.data import load, sample
from assistant.bfcl.plugin import plugin_file
from assistant.bfcl.runners import prose_full
from assistant.bfcl.score import score
from assistant.tools import ToolRegistry

DATA = Path(__file__).parent / "data" / "bfcl"

FUNCTIONS = [
    {
        "name": "math.factorial",
        "description": "Calculate the factorial of a given number.",
        "parameters": {
            "type": "dict",
            "properties": {"number": {"type": "integer", "description": "The number."}},
            "required": ["number"],
        },
    },
    {
        "name": "currency.convert",
        "description": 'Convert money. Say "three" quotes: """ and a backslash \\ too.',
        "parameters": {
            "type": "dict",
            "properties": {
                "amount": {"type": "float", "description": "How much."},
                "to": {"type": "string", "enum": ["EUR", "USD"], "description": "A currency code."},
                "rates": {"type": "array", "items": {"type": "float"}, "description": "Known rates."},
                "round": {"type": "boolean", "description": "Round it.", "default": True},
                "where": {
                    "type": "dict",
                    "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}},
                    "required": ["city"],
                    "description": "The bank.",
                },
            },
            "required": ["amount", "to"],
        },
    },
    {
        "name": "flights.search",
        "description": "Find flights.",
        "parameters": {
            "type": "dict",
            "properties": {"from": {"type": "string", "description": "Leaving from."}},
            "required": ["from"],
        },
    },
]


def _load(tmp_path: Path, source: str) -> ToolRegistry:
    folder = tmp_path / "plugins"
    folder.mkdir(mode=0o700)
    (folder / "case.py").write_text(source)
    registry = ToolRegistry([folder])
    registry.load()
    return registry


def test_functions_become_a_plugin_file_sori_loads(tmp_path: Path) -> None:
    written = plugin_file(FUNCTIONS, title="a BFCL case")
    registry = _load(tmp_path, written.source)
    assert not registry.errors, registry.errors
    assert written.names == {"math_factorial": "math.factorial", "currency_convert": "currency.convert"}
    # A parameter named like a Python keyword cannot be written; it is listed, not dropped silently.
    assert (
        len(written.skipped) == 1
        and "flights.search" in written.skipped[0]
        and "'from'" in written.skipped[0]
    )
    factorial = registry.tools["math_factorial"].openai_schema()["function"]
    assert factorial["description"].startswith("Calculate the factorial")
    assert factorial["parameters"]["required"] == ["number"]
    assert factorial["parameters"]["properties"]["number"]["type"] == "integer"
    convert = registry.tools["currency_convert"].openai_schema()["function"]
    assert '"""' in convert["description"] and "\\" in convert["description"]
    props = convert["parameters"]["properties"]
    assert props["to"]["enum"] == ["EUR", "USD"]
    assert props["to"]["description"] == "A currency code."
    # An optional list is offered as a list of numbers: left out, it is None (no null on offer).
    assert props["rates"]["type"] == "array" and props["rates"]["items"] == {"type": "number"}
    assert "rates" not in convert["parameters"]["required"]
    assert props["round"]["default"] is True
    assert set(convert["parameters"]["required"]) == {"amount", "to"}
    assert "city" in json.dumps(props["where"])
    # The arguments a model would send are accepted as BFCL wrote them.
    spec = registry.tools["currency_convert"]
    assert spec.validate({"amount": 3, "to": "EUR", "where": {"city": "Oslo"}})["amount"] == 3.0


CONVERT = FUNCTIONS[1]
ANSWER = {
    "currency.convert": {"amount": [10.0], "to": ["EUR"], "rates": ["", [1.1, 0.9]], "round": ["", True]}
}


@pytest.mark.parametrize(
    ("call", "why"),
    [
        ({"amount": 10, "to": "eur"}, None),  # an int for a float; strings without case
        ({"amount": 10.0, "to": "EUR", "rates": [1.1, 0.9], "round": True}, None),
        ({"to": "EUR"}, "missing amount"),
        ({"amount": 10.0, "to": "USD"}, "not among"),
        ({"amount": 10.0, "to": "EUR", "fee": 1}, "unexpected argument fee"),
        ({"amount": "10", "to": "EUR"}, "type str"),
        ({"amount": 10.0, "to": "EUR", "rates": [1.1]}, "not among"),
    ],
)
def test_a_call_is_scored_by_bfcls_rules(call: dict, why: str | None) -> None:
    verdict = score("simple_python", [CONVERT], [{"currency.convert": call}], [ANSWER])
    assert (verdict is None) if why is None else (why in (verdict or "")), verdict


def test_counts_order_and_irrelevance() -> None:
    fn = FUNCTIONS[0]
    answers = [{"math.factorial": {"number": [5]}}, {"math.factorial": {"number": [6]}}]
    both = [{"math.factorial": {"number": 6}}, {"math.factorial": {"number": 5}}]
    assert score("parallel", [fn], both, answers) is None  # any order
    assert "1 calls, expected 2" in (score("parallel", [fn], both[:1], answers) or "")
    assert score("simple_python", [fn], [], answers[:1]) == "no call"
    assert "called set_timer" in (score("simple_python", [fn], [{"set_timer": {}}], answers[:1]) or "")
    assert score("irrelevance", [fn], [], []) is None
    assert score("irrelevance", [fn], [{"get_time": {}}], []) is None  # a built-in is not the case's function
    assert score("irrelevance", [fn], both[:1], []) == "called math.factorial"


def test_both_sides_stop_at_forty_words_of_prose_but_never_inside_a_call() -> None:
    words = " ".join(["word"] * 39)
    assert not prose_full(words) and prose_full(words + " more")
    call = '<tool_call>{"name": "math.factorial", "arguments": {"number": 5}}</tool_call>'
    assert not prose_full(f"{call} {words}")  # the call's words are not prose
    assert prose_full(f"{call} {words} more")
    # A call being written, fenced or tagged, or an answer that is JSON, is never cut.
    for start in ("<tool_call>", "Here: ```json\n", '{"name": "math.factorial", "arguments": {'):
        assert not prose_full(start + " ".join(['"k": 1,'] * 60))


def test_the_same_seed_samples_the_same_cases() -> None:
    cases = load(DATA, "simple_python")
    assert [c.id for c in cases] == ["simple_python_0", "simple_python_1"]
    assert cases[1].question == "Calculate the factorial of 5 using math functions."
    assert cases[1].answers == [{"math.factorial": {"number": [5]}}]
    one = [c.id for c in sample(cases, 1, seed=3)]
    assert one == [c.id for c in sample(cases, 1, seed=3)]
    assert {c.id for s in range(20) for c in sample(cases, 1, seed=s)} == {c.id for c in cases}
    assert load(DATA, "irrelevance")[0].answers == []


def test_unknown_category_is_a_clear_error(sori) -> None:
    result = sori("bench", "bfcl", "--data", str(DATA), "--categories", "simple")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no BFCL category 'simple'" in result.stderr and "simple_python" in result.stderr


@pytest.mark.bench  # the benchmark command on five cases, both sides: about 3 minutes, `make test-bench`
def test_bench_bfcl_runs_sori_and_the_bare_model_on_the_same_cases(sori, tmp_path: Path) -> None:
    data = tmp_path / "bfcl"
    shutil.copytree(DATA, data)
    unwritable = {
        "id": "simple_python_x",
        "question": [[{"role": "user", "content": "Flights from Oslo?"}]],
        "function": [FUNCTIONS[2]],
    }
    with (data / "BFCL_v4_simple_python.json").open("a") as f:
        f.write(json.dumps(unwritable) + "\n")
    result = sori("bench", "bfcl", "--data", str(data), "--sample", "0", "--json", timeout=900)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    cats = report["categories"]
    assert {c: cats[c]["cases"] for c in cats} == {
        "simple_python": 2,
        "multiple": 1,
        "irrelevance": 1,
        "parallel": 1,
    }
    assert cats["simple_python"]["skipped"] and "'from'" in cats["simple_python"]["skipped"][0]
    for side in ("sori", "bare"):
        wrong = {f["id"] for f in report["failures"][side]}
        # "Calculate the factorial of 5": the plugin's function, called with 5, by both.
        assert "simple_python_1" not in wrong, report["failures"][side]
        assert "irrelevance_0" not in wrong, report["failures"][side]
        assert report["total"][side] == sum(cats[c][side]["right"] for c in cats)
        # Calls are reported under BFCL's names, dots and all.
        for failure in report["failures"][side]:
            for call in failure["calls"]:
                assert not any(name.endswith(("_play", "_capital", "_largest_city")) for name in call)
