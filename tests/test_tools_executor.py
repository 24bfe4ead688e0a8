"""Tests for ToolExecutor: every way a tool call can go wrong comes back as a ToolResult, never a raise."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assistant.errors import Cancelled
from assistant.tools import ToolExecutor, ToolRegistry, ToolResult
from assistant.tools.executor import CallRefused, PendingCall, confirmation
from tests.plugin_files import make_folder, mixed_folder, write

CONFIRMED = '''
import asyncio
from pydantic import BaseModel
from assistant.tools import tool

RAN = []

@tool(confirm="Delete {path}?")
def delete_file(path: str) -> str:
    """Delete a file."""
    RAN.append(path)
    return f"deleted {path}"

@tool(confirm=True)
def launch(target: str, count: int = 2) -> dict:
    """Launch things."""
    RAN.append(target)
    return {"launched": target, "count": count}

class Reply(BaseModel):
    text: str
    score: float

@tool
async def slow_echo(text: str, delay: float = 0.0) -> Reply:
    """Echo, asynchronously."""
    await asyncio.sleep(delay)
    return Reply(text=text, score=1.5)

@tool
async def own_timeout() -> str:
    """Raises TimeoutError itself, well before any deadline."""
    raise TimeoutError("the server did not answer")

@tool(timeout=0.3)
async def async_hang() -> str:
    """Never finishes."""
    await asyncio.sleep(60)
    return "late"
'''


@pytest.fixture
def registry(tmp_path: Path) -> ToolRegistry:
    folder = mixed_folder(tmp_path)
    write(folder, "confirmed.py", CONFIRMED)
    reg = ToolRegistry([folder], entry_points=False)
    reg.load()
    return reg


def ran(registry: ToolRegistry) -> list[str]:
    return registry.get("delete_file").fn.__globals__["RAN"]


def test_good_tool_result(registry: ToolRegistry) -> None:
    result = ToolExecutor(registry).call("roll_dice", {"sides": 6, "count": 3})
    assert result.ok and result.error is None and result.confirmed is None and not result.dry_run
    rolls = json.loads(result.content)
    assert len(rolls) == 3 and all(1 <= r <= 6 for r in rolls)
    assert result.duration_ms >= 0
    data = result.to_dict()
    assert data["name"] == "roll_dice" and data["arguments"] == {"sides": 6, "count": 3}
    json.dumps(data)


def test_arguments_as_json_text(registry: ToolRegistry) -> None:
    executor = ToolExecutor(registry)
    assert executor.call("roll_dice", '{"sides": 1}').content == "[1]"
    bad = executor.call("roll_dice", "{sides: 1")
    assert not bad.ok and "not valid JSON" in bad.content


def test_unknown_tool_and_invalid_arguments(registry: ToolRegistry) -> None:
    executor = ToolExecutor(registry)
    unknown = executor.call("roll_die", {})
    assert not unknown.ok and "no tool named 'roll_die'; did you mean 'roll_dice'?" in unknown.content
    invalid = executor.call("roll_dice", {"sides": "lots"})
    assert not invalid.ok and invalid.content == invalid.error
    assert invalid.error.startswith("argument 'sides': Input should be a valid integer")


def test_exception_inside_tool(registry: ToolRegistry) -> None:
    result = ToolExecutor(registry).call("explode", {"reason": "the fuse\nwas short"})
    assert not result.ok
    assert result.error == "tool explode failed: ValueError: the fuse was short"


def test_hanging_tool_times_out_without_blocking(registry: ToolRegistry) -> None:
    executor = ToolExecutor(registry)
    t0 = time.monotonic()
    result = executor.call("hang", {})  # sleeps 60 s; its own timeout is 0.5 s
    assert time.monotonic() - t0 < 2
    assert not result.ok and result.error == "tool hang did not finish within 0.5 s"
    # The default timeout applies to tools without their own.
    fast = ToolExecutor(registry, default_timeout=0.2)
    assert (
        fast.call("slow_echo", {"text": "x", "delay": 5}).error
        == "tool slow_echo did not finish within 0.2 s"
    )
    t0 = time.monotonic()
    assert executor.call("async_hang", {}).error == "tool async_hang did not finish within 0.3 s"
    assert time.monotonic() - t0 < 2
    own = executor.call("own_timeout", {})
    assert own.error == "tool own_timeout failed: TimeoutError: the server did not answer"


def test_async_tool_and_pydantic_result(registry: ToolRegistry) -> None:
    result = ToolExecutor(registry).call("slow_echo", {"text": "hi"})
    assert result.ok and json.loads(result.content) == {"text": "hi", "score": 1.5}


def test_non_serializable_result(registry: ToolRegistry) -> None:
    result = ToolExecutor(registry).call("weird", {})
    assert not result.ok
    assert "tool weird returned a value of type object, which cannot be turned into JSON" in result.error


def test_huge_result_is_cut(registry: ToolRegistry) -> None:
    t0 = time.monotonic()
    result = ToolExecutor(registry, max_result_chars=4000).call("huge", {})
    assert time.monotonic() - t0 < 5
    assert result.ok and len(result.content) <= 4000
    total = 10 * 1024 * 1024 + 2  # the JSON string's quotes
    assert result.content.endswith(f"… [truncated: {total:,} characters in all]")
    assert result.content.startswith('"xxxx')


def test_confirm_tool_runs_only_when_approved(registry: ToolRegistry) -> None:
    asked: list[str] = []

    def approve(sentence: str) -> bool:
        asked.append(sentence)
        assert ran(registry) == []  # not run before the answer
        return True

    result = ToolExecutor(registry, confirm=approve).call("delete_file", {"path": "/tmp/x"})
    assert asked == ["Delete /tmp/x?"]
    assert result.ok and result.confirmed is True and json.loads(result.content) == "deleted /tmp/x"
    assert ran(registry) == ["/tmp/x"]


def test_confirm_refused_and_without_callback(registry: ToolRegistry) -> None:
    declined = ToolExecutor(registry, confirm=lambda s: False).call("launch", {"target": "moon"})
    assert not declined.ok and declined.confirmed is False
    assert declined.error == "the user declined: Run launch with target='moon', count=2?"
    nobody = ToolExecutor(registry).call("launch", {"target": "moon"})
    assert not nobody.ok and nobody.confirmed is False and "confirmation" in nobody.error

    def eof(sentence: str) -> bool:
        raise EOFError

    assert ToolExecutor(registry, confirm=eof).call("launch", {"target": "moon"}).confirmed is False
    assert ran(registry) == []

    def stop(sentence: str) -> bool:
        raise Cancelled

    with pytest.raises(Cancelled):  # the user stopping the turn is not a tool problem
        ToolExecutor(registry, confirm=stop).call("launch", {"target": "moon"})


def test_before_call_hooks_decide_after_validation(registry: ToolRegistry) -> None:
    seen: list[tuple[str, dict]] = []

    def note(call: PendingCall) -> None:
        seen.append((call.name, call.values))
        time.sleep(0.3)  # a user thinking: not the tool's time

    def refuse(call: PendingCall) -> None:
        raise CallRefused(f"not today: {call.name}")

    executor = ToolExecutor(registry)
    assert not executor.call("launch", {"target": 3}, before=[note]).ok  # invalid: no hook is asked
    assert seen == []
    refused = executor.call("roll_dice", {"sides": 6}, before=[note, refuse])
    assert not refused.ok and refused.error == "not today: roll_dice" and refused.confirmed is None
    assert seen == [("roll_dice", {"sides": 6, "count": 1})] and refused.duration_ms < 300
    # A hook that lets a confirm=True tool through is not a yes: only the confirmation hook gives one.
    unasked = executor.call("launch", {"target": "moon"}, before=[lambda call: None])
    assert not unasked.ok and unasked.confirmed is False and "confirmation" in unasked.error
    asked: list[str] = []
    yes = confirmation(lambda sentence: asked.append(sentence) or True)
    assert executor.call("launch", {"target": "moon"}, before=[yes, yes]).confirmed is True
    assert asked == ["Run launch with target='moon', count=2?"]  # asked once, though hooked twice
    assert ran(registry) == ["moon"]


def test_dry_run_validates_without_running_or_asking(registry: ToolRegistry) -> None:
    executor = ToolExecutor(registry, confirm=lambda s: pytest.fail("must not ask"))
    result = executor.call("delete_file", {"path": "/etc"}, dry_run=True)
    assert result.ok and result.dry_run and result.content == '{"dry_run": true}'
    assert ran(registry) == []
    assert not executor.call("delete_file", {}, dry_run=True).ok
    assert [r.name for r in executor.history] == ["delete_file", "delete_file"]


def test_reloaded_tool_is_used_on_the_next_call(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    path = write(
        folder,
        "v.py",
        "from assistant.tools import tool\n\n@tool\ndef v() -> int:\n    '''V.'''\n    return 1\n",
    )
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    executor = ToolExecutor(registry)
    assert executor.call("v", {}).content == "1"
    path.write_text(path.read_text().replace("return 1", "return 2"))
    registry.load()
    assert executor.call("v", {}).content == "2"
    assert isinstance(executor.call("v", {}), ToolResult)
