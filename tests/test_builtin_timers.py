"""Timers: the set/list/cancel tools, and TimerService ringing each due timer exactly once."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from assistant import paths
from assistant.services.timers import Timer, TimerService, add_timer, format_duration, pending_timers
from assistant.tools import ToolExecutor, ToolRegistry
from tests.conftest import builtin_registry, call, fails


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return builtin_registry()


@pytest.fixture
def executor(registry: ToolRegistry) -> ToolExecutor:
    return ToolExecutor(registry)


class Rung:
    """An on_due callback that records what rang."""

    def __init__(self) -> None:
        self.timers: list[Timer] = []
        self.event = threading.Event()

    def __call__(self, timer: Timer) -> None:
        self.timers.append(timer)
        self.event.set()


def test_set_list_cancel(executor: ToolExecutor) -> None:
    laundry = call(executor, "set_timer", duration_seconds=7200, label="laundry")
    assert laundry["duration"] == "2 hours" and "laundry" in laundry["message"]
    call(executor, "set_timer", duration_seconds=300)
    listed = call(executor, "list_timers")
    assert listed["count"] == 2
    assert [t["name"] for t in listed["timers"]] == ["5 minute timer", "laundry"]  # soonest first
    assert 295 <= listed["timers"][0]["remaining_seconds"] <= 300
    assert (paths.data_dir() / "timers.sqlite3").is_file()
    assert call(executor, "cancel_timer", label_or_id="LAUNDRY") == {"cancelled": ["laundry"], "count": 1}
    assert "laundry" not in str(call(executor, "list_timers"))
    error = fails(executor, "cancel_timer", label_or_id="oven")
    assert "no pending timer" in error and "5 minute timer" in error
    only = call(executor, "list_timers")["timers"][0]
    assert call(executor, "cancel_timer", label_or_id=str(only["id"]))["count"] == 1
    assert call(executor, "list_timers") == {"count": 0, "timers": []}


def test_cancel_by_part_of_a_label_and_all(executor: ToolExecutor) -> None:
    call(executor, "set_timer", duration_seconds=1200, label="check the oven")
    call(executor, "set_timer", duration_seconds=60, label="tea")
    assert call(executor, "cancel_timer", label_or_id="oven")["cancelled"] == ["check the oven"]
    call(executor, "set_timer", duration_seconds=60, label="eggs")
    assert call(executor, "cancel_timer", label_or_id="all")["count"] == 2


@pytest.mark.parametrize("seconds", [0, -5, 7 * 24 * 3600 + 1])
def test_duration_limits(executor: ToolExecutor, seconds: int) -> None:
    assert "timer" in fails(executor, "set_timer", duration_seconds=seconds)
    assert pending_timers() == []


def test_week_long_timer_is_allowed(executor: ToolExecutor) -> None:
    assert call(executor, "set_timer", duration_seconds=7 * 24 * 3600)["duration"] == "7 days"


def test_one_second_timer_rings_once(executor: ToolExecutor) -> None:
    call(executor, "set_timer", duration_seconds=1, label="quick")
    rung = Rung()
    service = TimerService(on_due=rung)
    t0 = time.monotonic()
    service.start()
    try:
        assert rung.event.wait(3), "the timer did not ring"
        assert 0.5 <= time.monotonic() - t0 <= 2.5
        time.sleep(0.7)  # more polls: it must not ring again
    finally:
        service.stop()
    assert [t.label for t in rung.timers] == ["quick"]
    assert rung.timers[0].fired and not rung.timers[0].late
    assert rung.timers[0].message() == "Timer 'quick' is done."
    assert service.pending() == []


def test_timer_due_while_not_running_rings_at_start_marked_late() -> None:
    db = paths.data_dir() / "timers.sqlite3"
    timer = add_timer(60, "pasta")
    with sqlite3.connect(db) as conn:  # as if Sori was off when it came due, two minutes ago
        conn.execute("UPDATE timers SET due = ? WHERE id = ?", (time.time() - 120, timer.id))
    future = add_timer(3600, "later")
    rung = Rung()
    service = TimerService(db, rung)
    service.start()
    try:
        assert rung.event.wait(2), "the late timer did not ring at start"
    finally:
        service.stop()
    assert [(t.label, t.late) for t in rung.timers] == [("pasta", True)]
    assert "Late" in rung.timers[0].message() and "2 minutes" in rung.timers[0].message()
    assert [t.id for t in pending_timers(db)] == [future.id]
    # A second service on the same database (a restart) does not ring it again.
    again = Rung()
    assert TimerService(db, again).fire_due() == [] and again.timers == []


def test_a_failing_callback_does_not_stop_the_others() -> None:
    for label in ("a", "b"):
        add_timer(1, label)
    seen: list[str] = []

    def on_due(timer: Timer) -> None:
        seen.append(timer.label or "")
        raise RuntimeError("speaker unplugged")

    with pytest.warns(UserWarning, match="speaker unplugged"):
        rung = TimerService(on_due=on_due).fire_due(now=time.time() + 5)
    assert seen == ["a", "b"] and len(rung) == 2
    assert pending_timers() == []


def test_on_due_is_required() -> None:
    with pytest.raises(TypeError):
        TimerService()


def test_format_duration() -> None:
    assert format_duration(90) == "1 minute 30 seconds"
    assert format_duration(7200) == "2 hours"
    assert format_duration(1) == "1 second"
    assert format_duration(3 * 86400 + 3661) == "3 days 1 hour"
