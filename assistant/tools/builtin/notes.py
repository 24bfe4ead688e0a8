"""Built-in tools: short notes the user dictates, kept in SQLite in Sori's data folder."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from assistant import dbfile, paths
from assistant.tools import tool

MAX_CHARS = 5000  # a note is something said in one go
LIST_LIMIT = 50  # the model reads the newest ones; more would be cut anyway

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, created REAL NOT NULL);
"""


@contextmanager
def _db() -> Iterator[sqlite3.Connection]:
    path = paths.data_dir() / "notes.sqlite3"  # looked up per call: tests and users move the data folder
    with dbfile.connect(path, "notes database", _SCHEMA, timeout=10) as conn:
        # SQLite's own LIKE folds ASCII only; this folds "Ä" and "ß" too.
        conn.create_function("casefold", 1, lambda s: s.casefold() if s else s, deterministic=True)
        with conn:
            yield conn


def _note(row: tuple) -> dict:
    created = datetime.fromtimestamp(row[2]).astimezone()
    return {"id": row[0], "text": row[1], "created": created.strftime("%Y-%m-%d %H:%M")}


def _like_pattern(word: str) -> str:
    escaped = re.sub(r"([\\%_])", r"\\\1", word.casefold())  # the user's % and _ are plain characters
    return f"%{escaped}%"


def _stem(word: str) -> str:
    """A plural finds the singular too: "passwords" matches "password" (but "glass" stays "glass")."""
    lower = word.lower()
    return word[:-1] if len(word) > 3 and lower.endswith("s") and not lower.endswith("ss") else word


# A note asked for in so many words; what follows is the note as said. Not a question ("Remember that
# film we saw?").
_NOTE = r"\s+(?P<text>\w[^?]*?)[\s.!]*$"
NOTE_REQUESTS = [
    # Whisper often drops the pause after "note": "Take a note buy milk".
    r"^\W*(?:please\s+)?(?:take|make|add|write(?:\s+down)?)\s+a\s+note(?:\s*[:,]|\s+that)?" + _NOTE,
    r"^\W*(?:please\s+)?(?:note\s+(?:down\s+)?|remember\s+)that" + _NOTE,
]


@tool(
    patterns=NOTE_REQUESTS,
    examples=[
        "take a note: call the plumber tomorrow",
        "note that the car needs an oil change",
        "remember that the gate code is 1234",
    ]
)
def add_note(text: str) -> dict:
    """Save a note for the user ("take a note", "remember that ...").

    Args:
        text: the note itself, as the user said it
    """
    text = text.strip()
    if not text:
        raise ValueError("the note is empty; say what to note")
    if len(text) > MAX_CHARS:
        raise ValueError(f"the note is too long ({len(text)} characters; at most {MAX_CHARS})")
    now = time.time()
    with _db() as conn:
        cur = conn.execute("INSERT INTO notes (text, created) VALUES (?, ?)", (text, now))
    return {"saved": _note((cur.lastrowid, text, now))}


@tool(examples=["show me my notes", "what is in my notes", "list my notes", "read my notes out loud"])
def list_notes() -> dict:
    """List the notes the user saved, newest first; you cannot see them without this tool."""
    with _db() as conn:
        (total,) = conn.execute("SELECT COUNT(*) FROM notes").fetchone()
        rows = conn.execute(
            "SELECT id, text, created FROM notes ORDER BY created DESC, id DESC LIMIT ?", (LIST_LIMIT,)
        ).fetchall()
    return {"count": total, "notes": [_note(r) for r in rows]}


@tool(examples=["find my notes about the car", "did I note anything about the plumber"])
def search_notes(query: str) -> dict:
    """Find the notes the user saved that mention some words, newest first; you cannot see them without this
    tool.

    Args:
        query: the words to look for, e.g. "dentist" or "wifi password"
    """
    # Words as typed, without the punctuation around them: "50%" stays "50%", "dentist?" is "dentist".
    words = [w.strip(".,;:!?\"'()[]{}") for w in query.split()]
    words = [w for w in words if w]
    if not words:
        raise ValueError("say what to search the notes for")
    stems = [_stem(w) for w in words]  # every word must appear
    where = " AND ".join("casefold(text) LIKE ? ESCAPE '\\'" for _ in stems)
    with _db() as conn:
        rows = conn.execute(
            f"SELECT id, text, created FROM notes WHERE {where} ORDER BY created DESC, id DESC LIMIT ?",
            [*(_like_pattern(s) for s in stems), LIST_LIMIT],
        ).fetchall()
    return {"query": query, "count": len(rows), "notes": [_note(r) for r in rows]}


@tool(examples=["delete note 3", "remove that note"])
def delete_note(note_id: int) -> dict:
    """Delete one note by its number (the id shown by list_notes or search_notes).

    Args:
        note_id: the note's id number
    """
    with _db() as conn:
        row = conn.execute("SELECT id, text, created FROM notes WHERE id = ?", (note_id,)).fetchone()
        if row is None:
            raise ValueError(f"there is no note number {note_id}; list_notes shows the numbers")
        conn.execute("DELETE FROM notes WHERE id = ?", (note_id,))
    return {"deleted": _note(row)}
