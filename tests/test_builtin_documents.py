"""search_documents: a folder of .txt, .md and .pdf files, indexed in SQLite FTS5, kept in step with the
folder (changed files re-read, deleted ones dropped), results naming the file and the PDF page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import paths
from assistant.services import documents as index
from assistant.tools import ToolExecutor, ToolRegistry
from tests.conftest import builtin_registry, call

FILLER = "This paragraph is here so that the file is more than one passage long. " * 12

LEASE = f"""Residential lease agreement.
{FILLER}
Pets: small pets such as cats are allowed with a deposit of 300 euros. Dogs need written consent.
{FILLER}
Rent is due on the first day of each month."""

HANDBOOK = f"""# Employee handbook

## Vacation
Every employee gets 25 vacation days per year; unused vacation days expire in March.

{FILLER}
"""


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path, pages: list[str]) -> None:
    """A minimal valid PDF (Helvetica text, one line per page), with a correct xref table."""
    n = len(pages)
    page_ids = [4 + 2 * i for i in range(n)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {n} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for pid, text in zip(page_ids, pages, strict=True):
        stream = f"BT /F1 11 Tf 40 750 Td ({_pdf_string(text)}) Tj ET".encode()
        objects[pid] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents " + f"{pid + 1} 0 R >>".encode()
        )
        objects[pid + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offsets: dict[int, int] = {}
    for oid in sorted(objects):
        offsets[oid] = len(out)
        out += f"{oid} 0 obj\n".encode() + objects[oid] + b"\nendobj\n"
    xref, size = len(out), max(objects) + 1
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offsets[i]:010d} 00000 n \n".encode() for i in range(1, size))
    out += f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    docs = tmp_path / "docs"
    (docs / "work").mkdir(parents=True)
    (docs / "lease.txt").write_text(LEASE, encoding="utf-8")
    (docs / "work" / "handbook.md").write_text(HANDBOOK, encoding="utf-8")
    write_pdf(
        docs / "manual.pdf",
        [
            "Coffee machine manual. Fill the tank with fresh water before first use.",
            "Warranty: the warranty period is 24 months from the date of purchase.",
        ],
    )
    (docs / ".hidden.txt").write_text("pets warranty vacation", encoding="utf-8")
    (docs / "picture.png").write_bytes(b"\x89PNG not a document")
    index.configure(docs)
    yield docs
    index.configure(None)


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return builtin_registry()


@pytest.fixture
def executor(registry: ToolRegistry) -> ToolExecutor:
    return ToolExecutor(registry)


def search(executor: ToolExecutor, query: str) -> dict:
    return call(executor, "search_documents", query=query)


def test_finds_the_right_file_and_page(executor: ToolExecutor, folder: Path) -> None:
    found = search(executor, "What does my lease say about pets?")
    assert found["documents"] == 3  # hidden files and pictures are not documents
    best = found["results"][0]
    assert best["file"] == "lease.txt" and "deposit of 300 euros" in best["text"] and "page" not in best
    best = search(executor, "warranty period")["results"][0]
    assert (best["file"], best["page"]) == ("manual.pdf", 2)
    assert "24 months" in best["text"]
    best = search(executor, "Find the section about vacation days in my files")["results"][0]
    assert best["file"] == "work/handbook.md" and "25 vacation days" in best["text"]
    assert (paths.data_dir() / "documents.sqlite3").is_file()


def test_no_match_and_fts_syntax_in_the_query(executor: ToolExecutor, folder: Path) -> None:
    found = search(executor, "zebra")
    assert found["results"] == [] and "Nothing" in found["message"]
    # Quotes, stars and NEAR/AND/OR are the user's words, not FTS5 syntax.
    assert search(executor, 'pets" OR * NEAR(AND')["results"][0]["file"] == "lease.txt"


def test_only_changed_files_are_read_again(executor: ToolExecutor, folder: Path) -> None:
    first = index.sync()
    assert sorted(first.indexed) == ["lease.txt", "manual.pdf", "work/handbook.md"]
    assert index.sync().indexed == [] and index.sync().unchanged == 3
    lease = folder / "lease.txt"
    lease.write_text(LEASE.replace("cats are allowed", "parrots are allowed"), encoding="utf-8")
    os.utime(lease, ns=(lease.stat().st_atime_ns, lease.stat().st_mtime_ns + 2_000_000_000))
    again = index.sync()
    assert again.indexed == ["lease.txt"] and again.unchanged == 2 and again.removed == []
    assert "parrots" in search(executor, "parrots")["results"][0]["text"]
    assert search(executor, "cats")["results"] == []


def test_deleted_files_are_dropped(executor: ToolExecutor, folder: Path) -> None:
    index.sync()
    (folder / "work" / "handbook.md").unlink()
    assert index.sync().removed == ["work/handbook.md"]
    assert all(r["file"] != "work/handbook.md" for r in search(executor, "vacation days")["results"])
    assert search(executor, "vacation")["documents"] == 2


def test_missing_or_empty_folder_is_a_message(executor: ToolExecutor, tmp_path: Path) -> None:
    index.configure(tmp_path / "nowhere")
    try:
        missing = search(executor, "pets")
        assert missing["results"] == [] and "no documents folder" in missing["message"]
        (tmp_path / "empty").mkdir()
        index.configure(tmp_path / "empty")
        empty = search(executor, "pets")
        assert empty["results"] == [] and "has no" in empty["message"]
    finally:
        index.configure(None)


def test_folder_from_the_environment(executor: ToolExecutor, tmp_path: Path, monkeypatch) -> None:
    docs = tmp_path / "mine"
    docs.mkdir()
    (docs / "recipe.md").write_text("Pancakes need flour, milk and eggs.", encoding="utf-8")
    monkeypatch.setenv("SORI_DOCUMENTS_DIR", str(docs))
    assert search(executor, "pancakes")["results"][0]["file"] == "recipe.md"
    monkeypatch.delenv("SORI_DOCUMENTS_DIR")
    assert index.documents_dir() == paths.data_dir() / "documents"


def test_a_broken_pdf_is_reported_not_fatal(executor: ToolExecutor, folder: Path) -> None:
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    found = search(executor, "warranty")
    assert found["results"][0]["file"] == "manual.pdf"
    assert found["unreadable"] == ["broken.pdf"]
    assert index.sync().failed == {}  # not retried until the file changes


def test_passages_overlap_and_cover_the_text() -> None:
    words = [f"word{i}" for i in range(400)]
    text = ". ".join(" ".join(words[i : i + 9]) for i in range(0, 400, 9))
    passages = index.split_passages(text)
    assert len(passages) > 3
    assert all(len(p) <= index.PASSAGE_CHARS for p in passages)
    joined = " ".join(passages)
    assert all(w in joined for w in words)
    for a, b in zip(passages, passages[1:], strict=False):
        assert b[:50] in a  # each passage begins with the end of the previous one
    assert index.split_passages("  short\n text ") == ["short text"]
    assert index.split_passages("") == []
