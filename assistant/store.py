"""The conversation store: SQLite in WAL mode, shared by the GUI thread and engine workers."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import dbfile, paths
from .errors import StoreError

SCHEMA_VERSION = 1
ROLES = ("user", "assistant", "system", "tool")
SOURCES = ("typed", "spoken")
TITLE_CHARS = 40

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    text TEXT NOT NULL, created REAL NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('typed', 'spoken')), audio_duration_s REAL,
    tool_calls TEXT NOT NULL DEFAULT '[]', timings_ms TEXT NOT NULL DEFAULT '{}',
    complete INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages (conversation_id, id);
"""

_NEWEST = "updated DESC, id DESC"
_WHAT = "conversation database"


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    created: float
    updated: float


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    role: str
    text: str
    created: float
    source: str
    audio_duration_s: float | None
    tool_calls: list[dict]
    timings_ms: dict[str, float]
    complete: bool


def title_from(text: str) -> str:
    """A conversation title from a message: its first ~40 characters, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= TITLE_CHARS:
        return flat
    cut = flat[:TITLE_CHARS]
    space = cut.rfind(" ")
    return (cut[:space] if space >= TITLE_CHARS // 2 else cut).rstrip(" ,.;:") + "…"


class ConversationStore:
    """Conversations and their messages. Safe to share between threads; each write commits at once."""

    def __init__(self, path: Path | None = None, *, timeout: float = 5.0) -> None:
        self.path = path if path is not None else paths.database_file()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._last_time = 0.0
        self._conn: sqlite3.Connection | None = self._open()

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so every write is one short transaction.
        conn = dbfile.open_checked(
            self.path,
            _WHAT,
            timeout=self._timeout,
            recheck=True,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process; only power loss may drop the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the conversation database {self.path} is from a newer Sori (update Sori to use it)"
                )
            if version < SCHEMA_VERSION:
                # One script, one transaction (closing on failure rolls it back); new versions add steps.
                conn.executescript(
                    f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
        except (sqlite3.Error, StoreError) as exc:
            conn.close()
            raise (self._error(exc) if isinstance(exc, sqlite3.Error) else exc) from None
        return conn

    def _error(self, exc: sqlite3.Error) -> StoreError:
        return dbfile.error(exc, self.path, _WHAT)

    @contextmanager
    def _cursor(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Hold the lock; for writes, wrap the block in one immediately committed transaction."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError("the conversation store is closed")
            try:
                if not write:
                    yield conn
                    return
                # IMMEDIATE takes the write lock up front, so another process makes us wait, not fail midway.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # also after a failed COMMIT, so the next BEGIN works
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _now(self) -> float:
        # Strictly increasing, so "newest first" holds even with a coarse clock.
        self._last_time = max(time.time(), self._last_time + 1e-6)
        return self._last_time

    @staticmethod
    def _message(row: sqlite3.Row) -> Message:
        data = dict(row)  # the columns are named like Message's fields
        data.update(
            tool_calls=json.loads(data["tool_calls"]),
            timings_ms=json.loads(data["timings_ms"]),
            complete=bool(data["complete"]),
        )
        return Message(**data)

    def _get(self, conn: sqlite3.Connection, conversation_id: int) -> Conversation:
        row = conn.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            raise StoreError(f"there is no conversation {conversation_id} (it may have been deleted)")
        return Conversation(**dict(row))

    def close(self) -> None:
        """Close the database; later calls raise StoreError. Closing twice is fine."""
        with self._lock:
            if self._conn is not None:
                with suppress(sqlite3.Error):  # only an optimisation; closing matters more
                    self._conn.execute("PRAGMA optimize")
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def new_conversation(self, title: str = "") -> Conversation:
        """Start a conversation; an empty title is filled from the first user message."""
        with self._cursor(write=True) as conn:
            now = self._now()
            cur = conn.execute(
                "INSERT INTO conversations (title, created, updated) VALUES (?, ?, ?)", (title, now, now)
            )
            return Conversation(int(cur.lastrowid or 0), title, now, now)

    def get_conversation(self, conversation_id: int) -> Conversation:
        """The conversation with this id; StoreError if there is none."""
        with self._cursor() as conn:
            return self._get(conn, conversation_id)

    def list_conversations(self) -> list[Conversation]:
        """All conversations, the most recently updated first."""
        with self._cursor() as conn:
            rows = conn.execute(f"SELECT * FROM conversations ORDER BY {_NEWEST}").fetchall()
        return [Conversation(**dict(row)) for row in rows]

    def latest_conversation(self) -> Conversation | None:
        """The most recently updated conversation, or None when there are none."""
        with self._cursor() as conn:
            row = conn.execute(f"SELECT * FROM conversations ORDER BY {_NEWEST} LIMIT 1").fetchone()
        return Conversation(**dict(row)) if row else None

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Set a conversation's title."""
        with self._cursor(write=True) as conn:
            self._get(conn, conversation_id)
            conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation and all its messages."""
        with self._cursor(write=True) as conn:
            self._get(conn, conversation_id)
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def delete_messages(self, conversation_id: int, ids: list[int]) -> None:
        """Delete these messages of a conversation: a question and answer withdrawn because the user had not
        finished (the whole question and its answer follow). A conversation left without a question loses
        the title the withdrawn one gave it."""
        with self._cursor(write=True) as conn:
            self._get(conn, conversation_id)
            rows = [(conversation_id, i) for i in ids]
            conn.executemany("DELETE FROM messages WHERE conversation_id = ? AND id = ?", rows)
            conn.execute(
                "UPDATE conversations SET title = '' WHERE id = ? AND NOT EXISTS"
                " (SELECT 1 FROM messages WHERE conversation_id = ? AND role = 'user')",
                (conversation_id, conversation_id),
            )

    def search(self, text: str) -> list[Conversation]:
        """Conversations whose messages (or title) contain `text`, newest first; % and _ match literally."""
        if not text.strip():
            return self.list_conversations()
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._cursor() as conn:
            rows = conn.execute(
                "SELECT * FROM conversations c WHERE c.title LIKE :p ESCAPE '\\' OR EXISTS ("
                " SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.text LIKE :p ESCAPE '\\')"
                " ORDER BY c.updated DESC, c.id DESC",
                {"p": pattern},
            ).fetchall()
        return [Conversation(**dict(row)) for row in rows]

    def add_message(
        self,
        conversation_id: int,
        role: str,
        text: str,
        *,
        source: str = "typed",
        audio_duration_s: float | None = None,
        tool_calls: list[dict] | None = None,
        timings_ms: dict[str, float] | None = None,
        complete: bool = True,
    ) -> Message:
        """Append a message and commit it at once; the conversation's `updated` moves to now."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        calls: list[dict[str, Any]] = list(tool_calls or [])
        timings = {str(k): float(v) for k, v in (timings_ms or {}).items()}
        with self._cursor(write=True) as conn:
            conversation = self._get(conn, conversation_id)
            now = self._now()
            row = (conversation_id, role, text, now, source, audio_duration_s)
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, role, text, created, source, audio_duration_s,"
                " tool_calls, timings_ms, complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, json.dumps(calls), json.dumps(timings), int(complete)),
            )
            # The first user message names a conversation that has no title yet.
            title = conversation.title or (title_from(text) if role == "user" else "")
            conn.execute(
                "UPDATE conversations SET updated = ?, title = ? WHERE id = ?", (now, title, conversation_id)
            )
            return Message(int(cur.lastrowid or 0), *row, calls, timings, complete)

    def messages(self, conversation_id: int) -> list[Message]:
        """A conversation's messages in the order they were added."""
        with self._cursor() as conn:
            self._get(conn, conversation_id)
            rows = conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
            ).fetchall()
        return [self._message(row) for row in rows]
