"""Timers kept in SQLite (so they survive a restart) and the TimerService that rings them.

The `set_timer`, `list_timers` and `cancel_timer` built-in tools write to the same database through the
functions here; a running TimerService notices new timers within POLL_S seconds.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from assistant import dbfile, paths

MIN_SECONDS = 1
MAX_SECONDS = 7 * 24 * 3600
POLL_S = 0.5  # the longest the service sleeps, so timers added by another thread or process are seen
LATE_AFTER_S = 5.0  # firing this much after the due time (e.g. after a suspend) counts as late
KEEP_FIRED_S = 24 * 3600  # fired timers are kept this long, then cleaned up at start

_SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT, created REAL NOT NULL, due REAL NOT NULL,
    fired INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS timers_pending ON timers (fired, due);
"""


def default_db_path() -> Path:
    return paths.data_dir() / "timers.sqlite3"


def format_duration(seconds: float) -> str:
    """'2 hours 5 minutes', '90 seconds' -> '1 minute 30 seconds': for reading out."""
    total = max(0, round(seconds))
    parts = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return " ".join(parts[:2]) or "0 seconds"  # two units are enough to say out loud


def clock(epoch: float) -> str:
    """Local time of day, as said: '3:45 PM' (with the weekday when it is not today)."""
    when = datetime.fromtimestamp(epoch).astimezone()
    text = f"{when.hour % 12 or 12}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"
    return text if when.date() == datetime.now().astimezone().date() else f"{text} on {when:%A}"


@dataclass(frozen=True)
class Timer:
    """One timer. `late` is set only on the copy given to on_due, when it rang well after its due time."""

    id: int
    label: str | None
    created: float  # epoch seconds
    due: float  # epoch seconds
    fired: bool = False
    late: bool = False

    @property
    def name(self) -> str:
        """The label, or what people call it: "5 minute timer"."""
        length = re.sub(r"\b(day|hour|minute|second)s\b", r"\1", format_duration(self.due - self.created))
        return self.label or f"{length} timer"

    def remaining(self, now: float | None = None) -> float:
        return max(0.0, self.due - (time.time() if now is None else now))

    def message(self, now: float | None = None) -> str:
        """What to tell the user when it rings."""
        text = f"Timer {self.label!r} is done." if self.label else f"Your {self.name} is done."
        if self.late:
            ago = (time.time() if now is None else now) - self.due
            text += f" (Late: it was due {format_duration(ago)} ago, at {clock(self.due)}.)"
        return text

    def to_dict(self, now: float | None = None) -> dict:
        """What a tool returns about it."""
        return {
            "id": self.id,
            "label": self.label,
            "name": self.name,
            "due": clock(self.due),
            "remaining": format_duration(self.remaining(now)),
            "remaining_seconds": round(self.remaining(now)),
        }


@contextmanager
def connect(db_path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A fresh connection per use (cheap, and safe across threads), committed when the block ends."""
    path = Path(db_path) if db_path is not None else default_db_path()
    with dbfile.connect(path, "timers database", _SCHEMA, timeout=10) as conn, conn:
        yield conn


def _row(row: tuple) -> Timer:
    return Timer(id=row[0], label=row[1], created=row[2], due=row[3], fired=bool(row[4]))


_COLUMNS = "id, label, created, due, fired"


def add_timer(duration_seconds: int, label: str | None = None, db_path: Path | None = None) -> Timer:
    """Store a new timer; ValueError outside 1 second .. 7 days."""
    if duration_seconds < MIN_SECONDS:
        raise ValueError("a timer needs a duration of at least 1 second")
    if duration_seconds > MAX_SECONDS:
        raise ValueError(f"a timer can run for at most 7 days, not {format_duration(duration_seconds)}")
    label = " ".join(label.split())[:100] if label else None
    label = label or None  # a label of only spaces is no label
    now = time.time()
    with connect(db_path) as conn:
        cur = conn.execute(
            "INSERT INTO timers (label, created, due) VALUES (?, ?, ?)", (label, now, now + duration_seconds)
        )
        return Timer(id=int(cur.lastrowid or 0), label=label, created=now, due=now + duration_seconds)


def pending_timers(db_path: Path | None = None) -> list[Timer]:
    """Timers that have not rung yet, soonest first."""
    with connect(db_path) as conn:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM timers WHERE fired = 0 ORDER BY due, id").fetchall()
    return [_row(r) for r in rows]


def cancel_timers(label_or_id: str, db_path: Path | None = None) -> list[Timer]:
    """Cancel pending timers by id ("3", "#3"), by label (any case; all with that label), or "all".

    A label that matches no timer exactly may match one label partly ("oven" for "check the oven").
    ValueError, listing what is pending, when nothing matches.
    """
    key = " ".join(str(label_or_id).split()).strip().lstrip("#").casefold()
    pending = pending_timers(db_path)
    if key in ("all", "every", "everything", "all timers"):
        chosen = pending
    elif key.isdigit():
        chosen = [t for t in pending if t.id == int(key)]
    else:
        chosen = [t for t in pending if (t.label or "").casefold() == key]
        if not chosen and key:
            partial = [t for t in pending if key in (t.label or "").casefold()]
            chosen = partial if len(partial) == 1 else []
    if not chosen:
        known = "; ".join(f"#{t.id} {t.name} (due {clock(t.due)})" for t in pending) or "none"
        raise ValueError(f"no pending timer matches {label_or_id!r}; pending timers: {known}")
    with connect(db_path) as conn:
        conn.executemany("DELETE FROM timers WHERE id = ? AND fired = 0", [(t.id,) for t in chosen])
    return chosen


class TimerService:
    """A daemon thread that calls on_due(timer) once for each timer that comes due, marking it fired.

    Timers that came due while Sori was not running ring right after start(), with `late=True`. The
    claim in the database (fired 0 -> 1) makes each timer ring once, even with two services running.
    """

    def __init__(self, db_path: Path | None = None, on_due: Callable[[Timer], None] | None = None) -> None:
        if on_due is None:
            raise TypeError("TimerService needs on_due, the function to call when a timer rings")
        self.db_path = Path(db_path) if db_path is not None else default_db_path()
        self.on_due = on_due
        self.started_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Clean up old fired timers and start ringing; a second start() does nothing."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.started_at = time.time()
        with connect(self.db_path) as conn:
            conn.execute("DELETE FROM timers WHERE fired = 1 AND due < ?", (self.started_at - KEEP_FIRED_S,))
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sori-timers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waits for an on_due call in progress, up to 5 s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def pending(self) -> list[Timer]:
        """Timers that have not rung yet, soonest first."""
        return pending_timers(self.db_path)

    def fire_due(self, now: float | None = None) -> list[Timer]:
        """Ring every due, unfired timer now (the thread calls this); returns those rung by this call."""
        now = time.time() if now is None else now
        with connect(self.db_path) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM timers WHERE fired = 0 AND due <= ? ORDER BY due, id", (now,)
            ).fetchall()
        rung: list[Timer] = []
        for timer in map(_row, rows):
            with connect(self.db_path) as conn:  # claim it first: at most once, even if on_due fails
                claimed = conn.execute("UPDATE timers SET fired = 1 WHERE id = ? AND fired = 0", (timer.id,))
            if claimed.rowcount != 1:
                continue  # another service (or a cancel) got there first
            missed = self.started_at is not None and timer.due < self.started_at  # due while Sori was off
            late = missed or now - timer.due > LATE_AFTER_S
            timer = replace(timer, fired=True, late=late)
            rung.append(timer)
            try:
                self.on_due(timer)
            except Exception as exc:  # one bad callback must not stop the other timers
                warnings.warn(f"timer {timer.id}: on_due failed: {type(exc).__name__}: {exc}", stacklevel=1)
        return rung

    def _next_wait(self) -> float:
        with connect(self.db_path) as conn:
            (due,) = conn.execute("SELECT MIN(due) FROM timers WHERE fired = 0").fetchone()
        return POLL_S if due is None else min(POLL_S, max(0.0, due - time.time()))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.fire_due()
                wait = self._next_wait()
            except Exception as exc:  # e.g. a locked or vanished database: try again shortly
                warnings.warn(f"timer service: {type(exc).__name__}: {exc}", stacklevel=1)
                wait = POLL_S
            self._stop.wait(wait)
