"""A full-text index (SQLite FTS5) of the user's documents folder, for the `search_documents` tool.

Files (.txt, .md, .pdf) are cut into passages of about PASSAGE_CHARS characters that overlap, so a
sentence split by a cut is still whole in one of them; PDF passages keep their page number. sync()
re-reads only files whose size or mtime changed and drops files that are gone.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from assistant import dbfile, paths

SUFFIXES = {".txt", ".md", ".markdown", ".pdf"}
PASSAGE_CHARS = 500
OVERLAP_CHARS = 100
MAX_FILE_BYTES = 50 * 1024 * 1024  # bigger files are skipped (they would take too long to read)
ENV_VAR = "SORI_DOCUMENTS_DIR"

# Words that say nothing about what is being looked for; dropped from queries.
_STOP_TEXT = (
    "a an and are about as at be by can could did do does find for from have how i in is it me my of on "
    "or our say says section tell that the their there these this to was what when where which who why "
    "will with would you your files file documents document search"
)
STOPWORDS = frozenset(_STOP_TEXT.split())

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL,
    passages INTEGER NOT NULL, error TEXT);
CREATE VIRTUAL TABLE IF NOT EXISTS passages USING fts5(
    text, path UNINDEXED, page UNINDEXED, tokenize = 'porter unicode61 remove_diacritics 2');
"""

_configured: Path | None = None
_sync_lock = threading.Lock()  # one sync at a time in this process; SQLite guards across processes


def configure(folder: Path | str | None) -> None:
    """Use this folder from now on (None: back to SORI_DOCUMENTS_DIR or the default)."""
    global _configured
    _configured = Path(folder).expanduser() if folder is not None else None


def documents_dir() -> Path:
    """The configured folder, else $SORI_DOCUMENTS_DIR, else <data dir>/documents."""
    if _configured is not None:
        return _configured
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else paths.data_dir() / "documents"


def default_db_path() -> Path:
    return paths.data_dir() / "documents.sqlite3"


@dataclass
class SyncReport:
    """What one sync did: files (relative names) read again, dropped, left alone, or unreadable."""

    indexed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    files: int = 0  # documents in the folder now


@contextmanager
def _db(db_path: Path | None) -> Iterator[sqlite3.Connection]:
    path = db_path or default_db_path()
    with dbfile.connect(path, "documents index", _SCHEMA, timeout=30, isolation_level=None) as conn:
        yield conn


def split_passages(text: str, size: int = PASSAGE_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Cut text into passages of at most `size` characters, ending at a sentence or word where possible,
    each starting `overlap` characters before the previous one ended."""
    text = " ".join(text.split())
    if len(text) <= size:
        return [text] if text else []
    passages: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            sentence = max(text.rfind(p, start + size // 2, end) for p in (". ", "? ", "! "))
            space = text.rfind(" ", start + size // 2, end)
            end = sentence + 1 if sentence > 0 else space if space > 0 else end
        passages.append(text[start:end].strip())
        if end >= len(text):
            break
        nxt = max(start + 1, end - overlap)
        space = text.find(" ", nxt, end)
        start = space + 1 if space != -1 else nxt  # begin at a word, not inside one
    return passages


def read_pages(path: Path) -> list[tuple[int | None, str]]:
    """The text of a file: one (page number, text) per PDF page, or one (None, text) for text files."""
    if path.suffix.lower() != ".pdf":
        data = path.read_bytes()
        try:
            return [(None, data.decode("utf-8-sig"))]
        except UnicodeDecodeError:
            return [(None, data.decode("latin-1"))]  # old 8-bit text: never fails, mostly right
    from pypdf import PdfReader  # imported here: only needed when there are PDFs

    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise ValueError("the PDF is password-protected")
    return [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, 1)]


def _scan(folder: Path) -> dict[str, os.stat_result]:
    found: dict[str, os.stat_result] = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if path.suffix.lower() not in SUFFIXES or any(p.startswith(".") for p in rel.parts):
            continue  # hidden files and folders (.git, editor backups) are not documents
        try:
            if path.is_file():
                found[str(path.resolve())] = path.stat()
        except OSError:
            continue  # vanished or unreadable between listing and stat
    return found


def _name(path: str, folder: Path) -> str:
    try:
        return Path(path).relative_to(folder.resolve()).as_posix()
    except ValueError:
        return Path(path).name


def sync(folder: Path | None = None, db_path: Path | None = None) -> SyncReport:
    """Bring the index up to date with the folder: read new and changed files, drop deleted ones."""
    folder = folder or documents_dir()
    report = SyncReport()
    with _sync_lock, _db(db_path) as conn:
        current = _scan(folder) if folder.is_dir() else {}
        report.files = len(current)
        known = {p: (m, s) for p, m, s in conn.execute("SELECT path, mtime_ns, size FROM files")}
        for path in sorted(set(known) - set(current)):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM passages WHERE path = ?", (path,))
            conn.execute("DELETE FROM files WHERE path = ?", (path,))
            conn.execute("COMMIT")
            report.removed.append(_name(path, folder))
        for path, st in sorted(current.items()):
            if known.get(path) == (st.st_mtime_ns, st.st_size):
                report.unchanged += 1
                continue
            rows: list[tuple[str, str, int | None]] = []
            error = None
            try:
                if st.st_size > MAX_FILE_BYTES:
                    raise ValueError(f"larger than {MAX_FILE_BYTES // 2**20} MB")
                for page, text in read_pages(Path(path)):
                    rows += [(passage, path, page) for passage in split_passages(text)]
            except Exception as exc:  # a broken PDF must not stop the other files
                error = f"{type(exc).__name__}: {exc}"
                report.failed[_name(path, folder)] = error
            conn.execute("BEGIN IMMEDIATE")  # the file's old passages go and the new come in one step
            conn.execute("DELETE FROM passages WHERE path = ?", (path,))
            conn.executemany("INSERT INTO passages (text, path, page) VALUES (?, ?, ?)", rows)
            conn.execute(
                "INSERT OR REPLACE INTO files (path, mtime_ns, size, passages, error) VALUES (?, ?, ?, ?, ?)",
                (path, st.st_mtime_ns, st.st_size, len(rows), error),
            )
            conn.execute("COMMIT")
            if error is None:
                report.indexed.append(_name(path, folder))
    return report


def match_expression(query: str) -> str:
    """An FTS5 query from what the user said: its meaningful words, quoted (so no FTS syntax), OR-ed."""
    words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 1 or w.isdigit()]
    meaningful = [w for w in words if w not in STOPWORDS] or words
    if not meaningful:
        raise ValueError("say what to look for in the documents")
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(meaningful))


def search(query: str, limit: int = 4, folder: Path | None = None, db_path: Path | None = None) -> list[dict]:
    """The best passages for query (BM25), each with its file name and, for PDFs, its page."""
    folder = folder or documents_dir()
    expression = match_expression(query)
    with _db(db_path) as conn:
        rows = conn.execute(
            "SELECT path, page, text, bm25(passages) AS score FROM passages WHERE passages MATCH ? "
            "ORDER BY score LIMIT ?",
            (expression, limit),
        ).fetchall()
    results = []
    for path, page, text, score in rows:
        hit: dict = {"file": _name(path, folder)}
        if page is not None:
            hit["page"] = int(page)
        hit.update(text=text, score=round(-score, 3))
        results.append(hit)
    return results
