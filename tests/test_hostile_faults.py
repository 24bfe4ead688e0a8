"""Hostile input, part 2: Sori's own files damaged (databases, models) and signals at several moments.

Each row: no traceback, one line that says what to do, the exit status, the user's files unchanged, and
the bytes of a damaged database kept (moved aside, never deleted).
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import models
from tests.conftest import SHARED, TEST_CONFIG
from tests.hostile import Row, replace_file, run_table, world_dir

pytestmark = pytest.mark.slow  # the real `sori`, a process per row

HOLDERS: list[subprocess.Popen] = []
QUICK = TEST_CONFIG.replace("max_tokens = 96", "max_tokens = 8")  # the answer is not what is tested
ESSAY = "Write a very long essay about the history of the Roman empire, with every detail you know."
LONG = TEST_CONFIG.replace("max_tokens = 96", "max_tokens = 1024")  # far longer than any wait below
LONG_TEXT = " ".join(f"This is sentence number {i} of a long text that keeps going." for i in range(60))


def data(d: Path) -> Path:
    return d.parent / f"{d.name}.data"


def config(d: Path) -> Path:
    return d.parent / f"{d.name}.config"


def user_files(d: Path) -> None:
    (d / "answer.wav").write_bytes(b"the user's old answer")
    shutil.copy(SHARED / "audio" / "jfk.flac", d / "jfk.flac")


# -- databases ---------------------------------------------------------------------------------------
def damaged(name: str):
    def setup(d: Path) -> None:
        user_files(d)
        junk = b"not a database " * 500
        (data(d) / name).write_bytes(junk)
        (d.parent / f"{d.name}.junk").write_bytes(junk)

    return setup


def kept_aside(name: str):
    def check(d: Path, result) -> None:
        junk = hashlib.sha256((d.parent / f"{d.name}.junk").read_bytes()).hexdigest()
        moved = list(data(d).glob(f"{name}.corrupt-*"))
        assert moved, f"{name} was not moved aside"
        assert hashlib.sha256(moved[0].read_bytes()).hexdigest() == junk, "the damaged bytes were not kept"

    return check


def folder_in_place(name: str):
    def setup(d: Path) -> None:
        user_files(d)
        (data(d) / name).mkdir()

    return setup


def locked(name: str):
    """Another process holds the database's write lock for the whole row."""

    def setup(d: Path) -> None:
        user_files(d)
        path = data(d) / name
        code = (
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')\n"
            "c.execute('CREATE TABLE IF NOT EXISTS held (x)'); print('held', flush=True); time.sleep(120)\n"
        )
        holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        HOLDERS.append(holder)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

    return setup


def read_only(name: str):
    """A database the user (another user here) can read but not write."""

    def setup(d: Path) -> None:
        user_files(d)
        from assistant.store import ConversationStore

        if name == "conversations.sqlite3":
            with ConversationStore(data(d) / name) as store:
                store.add_message(store.new_conversation().id, "user", "an old question")
        else:
            from assistant.services.timers import add_timer

            add_timer(3600, "tea", db_path=data(d) / name)
        for p in data(d).iterdir():
            p.chmod(0o444)  # in the user's folder, but neither they nor `nobody` may write it

    return setup


def doctor_says(*needles: str):
    return {"stdout_needles": needles, "line": "none"}


def as_is(folder: Path) -> None:
    """The installed models, hard-linked into a folder another user can read."""


def model_file(folder: Path, role: str) -> Path:
    model_id = models.profile_models("small")[role]
    return folder / model_id / models.manifest(model_id).files[0].name


def truncated(role: str):
    def damage(folder: Path) -> None:
        replace_file(model_file(folder, role), data=b"GGUF" + b"\0" * 1000)

    return damage


def same_size(role: str, mode: int = 0o644):
    """Replaced by zeros of the same size (sparse), without a verification stamp; mode 000: unreadable."""

    def damage(folder: Path) -> None:
        target = model_file(folder, role)
        size = target.stat().st_size
        target.with_name(target.name + ".verified").unlink(missing_ok=True)
        replace_file(target, size=size, mode=mode)

    return damage


DB_ROWS = [
    Row(
        "db-conv-damaged",
        ["chat", "--new"],  # `ask` on a damaged database: tests/test_chat_cli.py
        0,
        ("damaged", "moved it to"),
        damaged("conversations.sqlite3"),
        line="warning",
        stdin="",
        check=kept_aside("conversations.sqlite3"),
    ),
    Row(
        "db-timers-damaged",
        ["chat", "--new"],
        0,
        ("damaged", "moved it to"),
        damaged("timers.sqlite3"),
        line="warning",
        stdin="",
        check=kept_aside("timers.sqlite3"),
    ),
    Row(
        "db-conv-folder",
        ["ask", "Hi"],
        1,
        ("is a folder", "move it away"),
        folder_in_place("conversations.sqlite3"),
    ),
    Row(
        "db-timers-folder",
        ["chat", "--new"],
        0,
        ("timers are off", "is a folder", "move it away"),
        folder_in_place("timers.sqlite3"),
        line="warning",
        stdin="",
    ),
    Row(
        "db-conv-locked",
        ["ask", "Hi"],
        1,
        ("locked by another program", "close other"),
        locked("conversations.sqlite3"),
    ),
    Row(
        "db-timers-locked",
        ["chat", "--new"],
        0,
        ("timers are off", "locked"),
        locked("timers.sqlite3"),
        line="warning",
        stdin="",
    ),
    Row(
        "db-conv-read-only",
        ["ask", "Hi"],
        1,
        ("read-only", "chmod"),
        read_only("conversations.sqlite3"),
        nobody=True,
    ),
    Row(
        "db-timers-read-only",
        ["chat", "--new"],
        0,
        ("timers are off", "read-only", "chmod"),
        read_only("timers.sqlite3"),
        line="warning",
        stdin="",
        nobody=True,
        models=as_is,
    ),
    Row(
        "db-doctor-notes-damaged",
        ["doctor"],
        1,
        setup=damaged("notes.sqlite3"),
        **doctor_says("[FAIL] notes database", "is damaged", "moves the file aside"),
    ),
    Row(
        "db-doctor-documents-folder",
        ["doctor"],
        1,
        setup=folder_in_place("documents.sqlite3"),
        **doctor_says("[FAIL] documents index", "is a folder", "fix: move it away"),
    ),
    Row(
        "db-doctor-conv-locked",
        ["doctor"],
        1,
        setup=locked("conversations.sqlite3"),
        **doctor_says("[FAIL] conversation database", "locked", "close other Sori"),
    ),
]

MODEL_ROWS = [
    Row(
        "model-llm-truncated",
        ["ask", "Hi"],
        1,
        ("truncated or replaced", "models install --force"),
        user_files,
        models=truncated("llm"),
    ),
    Row(
        "model-llm-replaced",
        ["ask", "Hi"],
        1,
        ("sha256", "models install --force"),
        user_files,
        models=same_size("llm"),
    ),
    Row(
        "model-llm-unreadable",
        ["ask", "Hi"],
        1,
        ("cannot be read", "chmod a+r"),
        user_files,
        models=same_size("llm", 0o000),
        nobody=True,
    ),
    Row(
        "model-tts-truncated",
        ["say", "Hello", "-o", "{d}/answer.wav"],
        1,
        ("truncated or replaced",),
        user_files,
        models=truncated("tts"),
    ),
    Row(
        "model-stt-replaced",
        ["transcribe", "{d}/jfk.flac"],
        1,
        ("sha256", "install --force"),
        user_files,
        models=same_size("stt"),
    ),
    Row(
        "model-verify-unreadable",
        ["models", "verify"],
        1,
        ("cannot be read", "chmod a+r"),
        user_files,
        models=same_size("stt", 0o000),
        nobody=True,
        stdout_needles=(": ok",),
    ),
    Row(
        "model-doctor-unreadable",
        ["doctor"],
        1,
        setup=user_files,
        models=same_size("llm", 0o000),
        nobody=True,
        **doctor_says("[FAIL] model llm", "cannot be read", "fix: chmod a+r"),
    ),
]


def stopped_within(seconds: float):
    def check(d: Path, result) -> None:
        assert result.seconds < seconds, f"took {result.seconds:.1f} s to stop (the first Ctrl-C was lost?)"

    return check


SIGNAL_ROWS = [
    *(
        Row(
            f"sig-ask-int-{t}s",
            ["ask", ESSAY],
            130,
            setup=user_files,
            config=LONG,
            signal_after=(signal.SIGINT, t),
            check=stopped_within(t + 10),
        )
        for t in (0.3, 0.5, 1.0, 2.0)
    ),
    Row(
        "sig-ask-audio-out-int",
        ["ask", "--audio-out", "{d}/answer.wav", ESSAY],
        130,
        setup=user_files,
        config=LONG,
        signal_after=(signal.SIGINT, 3.0),
        check=stopped_within(3.0 + 15),
    ),
    Row(
        "sig-ask-term", ["ask", ESSAY], 143, setup=user_files, config=LONG, signal_after=(signal.SIGTERM, 1.5)
    ),
    *(
        Row(
            f"sig-say-int-{t}s",
            ["say", LONG_TEXT, "-o", "{d}/answer.wav"],
            130,
            setup=user_files,
            signal_after=(signal.SIGINT, t),
        )
        for t in (0.5, 1.5, 3.0)
    ),
    Row(
        "sig-say-term",
        ["say", LONG_TEXT, "-o", "{d}/answer.wav"],
        143,
        setup=user_files,
        signal_after=(signal.SIGTERM, 2.0),
    ),
    Row(
        "sig-transcribe-int",
        ["transcribe", "{d}/jfk.flac", "{d}/jfk.flac"],
        130,
        setup=user_files,
        signal_after=(signal.SIGINT, 1.5),
    ),
    Row("sig-chat-term-idle", ["chat", "--new"], 143, setup=user_files, signal_after=(signal.SIGTERM, 4.0)),
]


@pytest.fixture(scope="module")
def base():
    d = world_dir("sori-hostile-faults-")
    yield d
    for holder in HOLDERS:
        holder.kill()
        holder.wait()
    shutil.rmtree(d, ignore_errors=True)


def test_damaged_databases_and_models(base: Path) -> None:
    wrong = run_table(DB_ROWS + MODEL_ROWS, base)
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())


def test_signals_at_several_moments(base: Path) -> None:
    wrong = run_table(SIGNAL_ROWS, base)
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())
