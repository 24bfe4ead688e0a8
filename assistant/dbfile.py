"""Every SQLite file Sori owns (conversations, timers, notes, documents) opens the same way.

A damaged file is moved aside with a warning and a new one is started; a locked, read-only or unopenable
file (or a folder in its place) is a one-line StoreError that says what to do.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from assistant.errors import StoreError

MAGIC = b"SQLite format 3\x00"
# Primary SQLite result codes (sqlite_errorcode & 0xff).
_BUSY, _LOCKED, _READONLY, _CORRUPT, _CANTOPEN, _NOTADB = 5, 6, 8, 11, 14, 26

_checked: set[Path] = set()  # files already checked by this process (a timer polls twice a second)
_checked_lock = threading.Lock()


def kind(exc: sqlite3.Error) -> str:
    """'damaged', 'locked', 'readonly', 'cantopen' or 'other', from the SQLite result code."""
    code, text = getattr(exc, "sqlite_errorcode", 0) & 0xFF, str(exc)
    if code in (_CORRUPT, _NOTADB) or "not a database" in text or "malformed" in text:
        return "damaged"
    if code in (_BUSY, _LOCKED) or "locked" in text:
        return "locked"
    if code == _READONLY or "readonly" in text:
        return "readonly"
    return "cantopen" if code == _CANTOPEN or "unable to open" in text else "other"


def error(exc: sqlite3.Error | OSError, path: Path, what: str) -> StoreError:
    """The one line for a database that cannot be used, with what to do about it."""
    if isinstance(exc, OSError):
        return StoreError(f"cannot use the {what} {path}: {exc.strerror or exc}; check its permissions")
    found = kind(exc)
    if found == "locked":
        return StoreError(
            f"the {what} {path} is locked by another program (close other Sori windows and try again)"
        )
    if found == "readonly":
        return StoreError(f"the {what} {path} is read-only; fix: chmod u+w {path} {path.parent}")
    if found == "cantopen":
        return StoreError(f"cannot open the {what} {path}; check that {path.parent} is a writable folder")
    return StoreError(f"{what} {path}: {' '.join(str(exc).split())}")


def check_path(path: Path, what: str) -> None:
    """Make the folder; refuse a folder (or a device) where the file belongs."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder {path.parent}: {exc.strerror or exc}") from None
    if path.is_dir():
        raise StoreError(f"the {what} {path} is a folder, not a database; move it away")
    if path.exists() and not path.is_file():
        raise StoreError(f"the {what} {path} is not a regular file; move it away")


def header_ok(path: Path, what: str) -> bool:
    """False when the file exists but is not SQLite. Checked before SQLite opens the file: on close it
    would delete a -wal it could not use."""
    try:
        with path.open("rb") as f:
            head = f.read(len(MAGIC))
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise StoreError(
            f"cannot read the {what} {path}: {exc.strerror or exc}; check its permissions"
        ) from None
    return not head or head == MAGIC


def healthy(conn: sqlite3.Connection, path: Path, what: str) -> bool:
    try:
        # quick_check reads every page but skips index cross-checks: fast enough for these small files.
        return [row[0] for row in conn.execute("PRAGMA quick_check")] == ["ok"]
    except sqlite3.DatabaseError as exc:
        if kind(exc) == "damaged":
            return False
        conn.close()
        raise error(exc, path, what) from None


def move_aside(path: Path, what: str) -> Path:
    """Rename a damaged file (with its -wal and -shm) to NAME.corrupt-STAMP and warn; returns the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while dest.exists():  # two failures within one second
        n += 1
        dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    try:
        path.replace(dest)
        # Keep -wal/-shm paired with the moved file so SQLite tools can still read it.
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.replace(dest.with_name(dest.name + suffix))
    except OSError as exc:
        raise StoreError(
            f"the {what} {path} is damaged and cannot be moved aside: {exc.strerror or exc} "
            "(move or delete it yourself)"
        ) from None
    warnings.warn(
        f"The {what} {path} was damaged; moved it to {dest} and started a new one.",
        RuntimeWarning,
        stacklevel=2,
    )
    return dest


def open_checked(
    path: Path, what: str, *, timeout: float = 5.0, recheck: bool = False, **kwargs
) -> sqlite3.Connection:
    """Connect, moving a damaged file aside first (checked once per process, or each time with recheck)."""
    check_path(path, what)
    key = path.absolute()
    with _checked_lock:
        fresh = recheck or key not in _checked
        conn = _connect(path, what, timeout, kwargs) if not fresh or header_ok(path, what) else None
        if fresh:
            if conn is not None and not healthy(conn, path, what):
                conn.close()
                conn = None
            if conn is None:
                move_aside(path, what)
                conn = _connect(path, what, timeout, kwargs)
            _checked.add(key)
    return conn


def _connect(path: Path, what: str, timeout: float, kwargs: dict) -> sqlite3.Connection:
    try:
        return sqlite3.connect(path, timeout=timeout, **kwargs)
    except sqlite3.Error as exc:
        raise error(exc, path, what) from None


@contextmanager
def connect(
    path: Path, what: str, schema: str, *, timeout: float = 5.0, **kwargs
) -> Iterator[sqlite3.Connection]:
    """A short-lived WAL connection with the schema in place; SQLite errors become one-line StoreErrors."""
    try:
        with closing(open_checked(path, what, timeout=timeout, **kwargs)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(schema)
            yield conn
    except sqlite3.Error as exc:
        raise error(exc, path, what) from None


def problem(path: Path, what: str) -> tuple[str, str] | None:
    """For `sori doctor`: (what is wrong, the fix) without changing anything, or None when usable."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_dir():
        return f"{path} is a folder, not a database", f"move it away: mv '{path}' '{path}.old'"
    try:
        with path.open("rb") as f:
            head = f.read(len(MAGIC))
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or exc})", f"chmod u+rw '{path}'"
    damaged = (f"{path} is damaged", "start Sori once: it moves the file aside and starts a new one")
    if head and head != MAGIC:
        return damaged
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=1.0)) as conn:
            if [row[0] for row in conn.execute("PRAGMA quick_check")] != ["ok"]:
                return damaged
    except sqlite3.Error as exc:
        found = kind(exc)
        if found == "damaged":
            return damaged
        if found == "locked":
            return f"{path} is locked by another program", "close other Sori windows"
        return f"{path}: {' '.join(str(exc).split())}", f"check the permissions of '{path}' and its folder"
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return f"{path} is read-only", f"chmod u+w '{path}' '{path.parent}'"
    return None
