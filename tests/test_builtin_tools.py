"""Sori's built-in tools, loaded like user plugins and called through ToolExecutor: the registry, get_time,
calculate, notes and open_url (timers, documents and weather have their own test_builtin_*.py files)."""

from __future__ import annotations

import json
import re
import time
import webbrowser
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant.tools import ToolExecutor, ToolRegistry
from assistant.tools.loader import BUILTIN_DIR
from tests.conftest import SHARED, builtin_registry, call, fails

EXPECTED_TOOLS = {
    "get_time", "calculate", "set_timer", "list_timers", "cancel_timer", "add_note", "list_notes",
    "search_notes", "delete_note", "search_documents", "get_weather", "open_url",
}  # fmt: skip


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return builtin_registry()


@pytest.fixture
def executor(registry: ToolRegistry) -> ToolExecutor:
    return ToolExecutor(registry)


# -- the registry -------------------------------------------------------------------------------------


def test_builtins_load_like_plugins(registry: ToolRegistry) -> None:
    assert registry.errors == []
    assert set(registry.tools) == EXPECTED_TOOLS
    for name, spec in registry.tools.items():
        assert spec.description, name
        assert spec.examples, f"{name} has no examples"
        for param, schema in spec.parameters["properties"].items():
            assert schema.get("description"), f"{name}({param}) has no Args: description"
        assert registry.sources()[name].parent == BUILTIN_DIR.resolve()


def test_examples_are_not_copied_from_the_evaluation(registry: ToolRegistry) -> None:
    # The examples feed a fast path; the evaluation's own sentences in them would inflate its score.
    path = SHARED / "eval" / "tool_calls.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")

    def plain(text: str) -> str:
        return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())

    held_out = {
        plain(json.loads(line)["utterance"]) for line in path.read_text().splitlines() if line.strip()
    }
    examples = {plain(e) for spec in registry.tools.values() for e in spec.examples}
    assert examples & held_out == set()


def test_parameters_match_the_eval_readme(registry: ToolRegistry) -> None:
    # ../shared/eval/README.md names these; the evaluation calls the tools with exactly these arguments.
    expected = {
        "get_time": ({"timezone"}, set()),
        "set_timer": ({"duration_seconds", "label"}, {"duration_seconds"}),
        "calculate": ({"expression"}, {"expression"}),
        "add_note": ({"text"}, {"text"}),
        "list_notes": (set(), set()),
        "search_notes": ({"query"}, {"query"}),
        "get_weather": ({"location"}, {"location"}),
        "search_documents": ({"query"}, {"query"}),
        "open_url": ({"url"}, {"url"}),
    }
    for name, (params, required) in expected.items():
        schema = registry.get(name).parameters
        assert set(schema["properties"]) == params, name
        assert set(schema["required"]) == required, name
    assert registry.get("set_timer").parameters["properties"]["duration_seconds"]["type"] == "integer"
    assert registry.get("open_url").confirm


# -- get_time -----------------------------------------------------------------------------------------

SPOKEN = re.compile(r"^\d{1,2}:\d{2} (AM|PM), [A-Z][a-z]+day \d{1,2} [A-Z][a-z]+$")


def test_local_time(executor: ToolExecutor) -> None:
    data = call(executor, "get_time")
    now = datetime.now().astimezone()
    assert abs((datetime.fromisoformat(data["iso"]) - now).total_seconds()) < 60
    assert SPOKEN.match(data["spoken"]), data["spoken"]
    assert data["weekday"] == datetime.fromisoformat(data["iso"]).strftime("%A")


@pytest.mark.parametrize(
    ("place", "zone"),
    [
        ("Seoul", "Asia/Seoul"),
        ("Asia/Seoul", "Asia/Seoul"),
        ("tokyo", "Asia/Tokyo"),
        ("new york", "America/New_York"),
        ("London", "Europe/London"),
        ("UTC", "UTC"),
        ("São Paulo", "America/Sao_Paulo"),
        ("Japan", "Asia/Tokyo"),
        ("Paris, France", "Europe/Paris"),
    ],
)
def test_time_in_a_place(executor: ToolExecutor, place: str, zone: str) -> None:
    data = call(executor, "get_time", timezone=place)
    assert data["timezone"] == zone
    there = datetime.fromisoformat(data["iso"])
    expected = datetime.now(ZoneInfo(zone))
    assert there.utcoffset() == expected.utcoffset()
    assert abs((there - expected).total_seconds()) < 60
    assert SPOKEN.match(data["spoken"]), data["spoken"]


def test_time_for_an_unknown_place(executor: ToolExecutor) -> None:
    error = fails(executor, "get_time", timezone="Atlantis")
    assert "Atlantis" in error and "Europe/Paris" in error


def test_every_place_in_the_table_is_a_real_zone(registry: ToolRegistry) -> None:
    from zoneinfo import available_timezones

    places = registry.get("get_time").fn.__globals__["PLACES"]
    assert len(places) >= 60
    assert set(places.values()) <= available_timezones()


# -- calculate ----------------------------------------------------------------------------------------


def eval_cases() -> list[tuple[str, float]]:
    path = SHARED / "eval" / "tool_calls.jsonl"
    if not path.is_file():
        return []
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        (c["utterance"], c["args"]["expression"]["evaluates_to"])
        for c in cases
        if c["tool"] == "calculate" and isinstance(c["args"].get("expression"), dict)
    ]


@pytest.mark.parametrize(
    ("utterance", "value"), eval_cases() or [pytest.param("", 0, marks=pytest.mark.skip)]
)
def test_calculate_reads_the_eval_utterances(executor: ToolExecutor, utterance: str, value: float) -> None:
    # The model usually sends "17 * 23"; even the whole sentence must work.
    data = call(executor, "calculate", expression=utterance)
    assert data["result"] == pytest.approx(value, abs=1e-6)
    assert data["expression"] == utterance


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("17 * 23", 391),
        ("17 × 23", 391),
        ("17 x 23", 391),
        ("15% of 80", 12),
        ("0.15 * 80", 12),
        ("80 * 15 / 100", 12),
        ("1024 / 16", 64),
        ("1024 ÷ 16", 64),
        ("3.5 + 4.25", 7.75),
        ("sqrt(144)", 12),
        ("√144", 12),
        ("144 ** 0.5", 12),
        ("2 ** 10", 1024),
        ("2^10", 1024),
        ("pow", None),
        ("20%", 0.2),
        ("-(3 - 5) * 2", 4),
        ("10 − 4", 6),
        ("7 / 2", 3.5),
        ("0.1 + 0.2", 0.3),
        ("1,024 + 1", 1025),
        ("5 minus 8", -3),
        ("10 mod 4", 2),
    ],
)
def test_calculate_expressions(executor: ToolExecutor, expression: str, value: float | None) -> None:
    if value is None:
        fails(executor, "calculate", expression=expression)
        return
    result = call(executor, "calculate", expression=expression)["result"]
    assert result == pytest.approx(value, abs=1e-9)
    if float(value).is_integer():
        assert isinstance(result, int), result  # "64", not "64.0"


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ("__import__('os')", "cannot calculate"),
        ("__import__('os').system('true')", "cannot calculate"),
        ("9**9**9", "too large"),
        ("10**400", "too large"),
        ("1/0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("x" * 10_000, "too long"),
        ("1" + "+1" * 140, "too long"),
        ("sqrt(-1)", "no real result"),
        ("factorial(100000)", "factorial"),
        ("(1).__class__", "not allowed"),
        ("open", "unknown word"),
        ("", "nothing to calculate"),
    ],
)
def test_calculate_refuses_hostile_input(executor: ToolExecutor, expression: str, needle: str) -> None:
    t0 = time.perf_counter()
    error = fails(executor, "calculate", expression=expression)
    assert needle in error
    assert time.perf_counter() - t0 < 1.0  # refused up front, not after a long computation


# -- notes --------------------------------------------------------------------------------------------


def test_notes_add_list_search_delete(executor: ToolExecutor) -> None:
    assert call(executor, "list_notes") == {"count": 0, "notes": []}
    first = call(executor, "add_note", text="Dentist appointment on Monday at 9")["saved"]
    call(executor, "add_note", text="wifi password is hunter2")
    call(executor, "add_note", text="Buy milk and eggs, 50% off at the corner shop")
    call(executor, "add_note", text="5000 steps a day; item_no 17")
    listed = call(executor, "list_notes")
    assert listed["count"] == 4
    assert [n["text"][:4] for n in listed["notes"]] == ["5000", "Buy ", "wifi", "Dent"]  # newest first
    assert call(executor, "search_notes", query="DENTIST")["notes"][0]["id"] == first["id"]
    assert call(executor, "search_notes", query="passwords")["count"] == 1  # plural finds singular
    assert call(executor, "search_notes", query="milk eggs")["count"] == 1  # every word, any order
    assert call(executor, "search_notes", query="milk dentist")["count"] == 0
    # "%" and "_" are matched as themselves, not as LIKE wildcards.
    assert [n["text"][:3] for n in call(executor, "search_notes", query="50%")["notes"]] == ["Buy"]
    assert call(executor, "search_notes", query="m_lk")["count"] == 0
    assert call(executor, "search_notes", query="item_no")["count"] == 1
    assert call(executor, "search_notes", query="dentist?")["count"] == 1
    deleted = call(executor, "delete_note", note_id=first["id"])
    assert deleted["deleted"]["text"].startswith("Dentist")
    assert call(executor, "list_notes")["count"] == 3
    assert "no note number" in fails(executor, "delete_note", note_id=first["id"])


def test_notes_refuse_empty_text(executor: ToolExecutor) -> None:
    assert "empty" in fails(executor, "add_note", text="   ")
    assert "search" in fails(executor, "search_notes", query="?!")


def test_notes_unicode_case(executor: ToolExecutor) -> None:
    call(executor, "add_note", text="Größe der ÄRMEL messen")
    assert call(executor, "search_notes", query="ärmel")["count"] == 1


# -- open_url -----------------------------------------------------------------------------------------


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    urls: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: urls.append(url) or True)
    monkeypatch.setenv("DISPLAY", ":0")  # a desktop, as far as the tool can tell
    return urls


def test_open_url_needs_confirmation(registry: ToolRegistry, opened: list[str]) -> None:
    result = ToolExecutor(registry).call("open_url", {"url": "https://example.com"})
    assert not result.ok and result.confirmed is False
    assert "Open https://example.com in your browser?" in result.error
    declined = ToolExecutor(registry, confirm=lambda s: False).call(
        "open_url", {"url": "https://example.com"}
    )
    assert not declined.ok and "declined" in declined.error
    assert opened == []


def test_open_url_when_confirmed(registry: ToolRegistry, opened: list[str]) -> None:
    asked: list[str] = []
    executor = ToolExecutor(registry, confirm=lambda s: asked.append(s) or True)
    assert call(executor, "open_url", url="https://example.com/a?b=1") == {
        "opened": "https://example.com/a?b=1"
    }
    assert call(executor, "open_url", url="wikipedia.org") == {"opened": "https://wikipedia.org"}
    assert opened == ["https://example.com/a?b=1", "https://wikipedia.org"]
    assert asked == ["Open https://example.com/a?b=1 in your browser?", "Open wikipedia.org in your browser?"]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "javascript:alert(1)", "ftp://example.com", "http://", "a b"]
)
def test_open_url_refuses_other_schemes(registry: ToolRegistry, opened: list[str], url: str) -> None:
    error = fails(ToolExecutor(registry, confirm=lambda s: True), "open_url", url=url)
    assert "http" in error or "web address" in error
    assert opened == []


def test_the_held_out_cases_name_real_tools_and_arguments(registry: ToolRegistry) -> None:
    # tests/data/eval/tool_calls_heldout.jsonl is written apart from the fast-path word lists and patterns,
    # to judge them on requests they were not made from (`sori bench tools --cases FILE`).
    path = Path(__file__).parent / "data" / "eval" / "tool_calls_heldout.jsonl"
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert len(cases) >= 50 and sum(c["tool"] is None for c in cases) >= 15
    for case in cases:
        if case["tool"] is not None:
            properties = registry.tools[case["tool"]].parameters.get("properties", {})
            assert set(case["args"]) <= set(properties), case
