"""Tests for assistant.store: round trips, ordering, search, recovery from damage and crashes, threads."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.errors import StoreError
from assistant.store import SCHEMA_VERSION, ConversationStore, Message, title_from

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default database path must land in tmp_path, never in the user's data folder.
    monkeypatch.setenv("SORI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SORI_CONFIG_DIR", str(tmp_path / "cfg"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "conversations.sqlite3"


@pytest.fixture
def store(db: Path) -> ConversationStore:
    with ConversationStore(db) as s:
        yield s


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_default_path_and_pragmas(tmp_path: Path) -> None:
    with ConversationStore() as s:
        assert s.path == tmp_path / "data" / "conversations.sqlite3"  # parent folder created
        s.new_conversation()
    conn = raw(s.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_round_trip(store: ConversationStore, db: Path) -> None:
    conv = store.new_conversation("Plans")
    calls = [{"name": "clock", "arguments": {"tz": "UTC"}, "result": "12:00"}]
    sent = store.add_message(
        conv.id,
        "assistant",
        "It is noon.",
        source="spoken",
        audio_duration_s=1.25,
        tool_calls=calls,
        timings_ms={"stt": 120, "llm": 830.5},
        complete=False,
    )
    store.close()
    with ConversationStore(db) as again:
        (got,) = again.messages(conv.id)
        assert got == sent
        assert isinstance(got, Message)
        assert got.tool_calls == calls and got.timings_ms == {"stt": 120.0, "llm": 830.5}
        assert got.complete is False and got.source == "spoken" and got.audio_duration_s == 1.25
        assert again.get_conversation(conv.id).title == "Plans"
        assert again.get_conversation(conv.id).updated == got.created


def test_ordering_and_latest(store: ConversationStore) -> None:
    assert store.latest_conversation() is None and store.list_conversations() == []
    a, b, c = (store.new_conversation(t) for t in "abc")
    assert [x.id for x in store.list_conversations()] == [c.id, b.id, a.id]
    store.add_message(a.id, "user", "bump a")
    assert [x.id for x in store.list_conversations()] == [a.id, c.id, b.id]
    latest = store.latest_conversation()
    assert latest is not None and latest.id == a.id

    texts = [f"m{i}" for i in range(30)]
    for i, text in enumerate(texts):
        store.add_message(b.id, ("user", "assistant", "tool", "system")[i % 4], text)
    assert [m.text for m in store.messages(b.id)] == texts
    assert store.messages(c.id) == []


def test_title_from_first_user_message(store: ConversationStore) -> None:
    conv = store.new_conversation()
    store.add_message(conv.id, "system", "You are Sori.")
    assert store.get_conversation(conv.id).title == ""
    long = "What is   the weather going to be like in Lisbon tomorrow afternoon?"
    store.add_message(conv.id, "user", long)
    title = store.get_conversation(conv.id).title
    assert title == title_from(long) == "What is the weather going to be like in…"
    store.add_message(conv.id, "user", "And on Sunday?")
    assert store.get_conversation(conv.id).title == title  # only the first one names it

    named = store.new_conversation("Mine")
    store.add_message(named.id, "user", "hello")
    assert store.get_conversation(named.id).title == "Mine"
    assert title_from("short one") == "short one"
    assert len(title_from("x" * 100)) == 41


def test_rename_delete_and_missing(store: ConversationStore, db: Path) -> None:
    conv = store.new_conversation()
    store.add_message(conv.id, "user", "hi")
    store.rename_conversation(conv.id, "Greetings")
    assert store.get_conversation(conv.id).title == "Greetings"
    store.delete_conversation(conv.id)
    assert store.list_conversations() == []
    conn = raw(db)
    assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0  # cascaded
    conn.close()
    for call in (
        lambda: store.get_conversation(conv.id),
        lambda: store.messages(conv.id),
        lambda: store.add_message(conv.id, "user", "x"),
        lambda: store.rename_conversation(conv.id, "x"),
        lambda: store.delete_conversation(conv.id),
    ):
        with pytest.raises(StoreError, match=rf"^there is no conversation {conv.id} \(.*\)$"):
            call()


def test_bad_role_or_source(store: ConversationStore) -> None:
    conv = store.new_conversation()
    with pytest.raises(ValueError, match="role"):
        store.add_message(conv.id, "robot", "x")
    with pytest.raises(ValueError, match="source"):
        store.add_message(conv.id, "user", "x", source="telepathy")
    assert store.messages(conv.id) == []


def test_search_escapes_wildcards(store: ConversationStore) -> None:
    percent = store.new_conversation()
    store.add_message(percent.id, "user", "a 100% sure answer")
    underscore = store.new_conversation()
    store.add_message(underscore.id, "user", "call snake_case()")
    plain = store.new_conversation()
    store.add_message(plain.id, "user", "100 cats and snakeXcase and back\\slash")
    titled = store.new_conversation("Holiday Plans")

    assert [c.id for c in store.search("100%")] == [percent.id]
    assert [c.id for c in store.search("%")] == [percent.id]
    assert [c.id for c in store.search("snake_case")] == [underscore.id]
    assert [c.id for c in store.search("_")] == [underscore.id]
    assert [c.id for c in store.search("back\\slash")] == [plain.id]
    assert [c.id for c in store.search("SNAKE")] == [plain.id, underscore.id]  # case-insensitive
    assert [c.id for c in store.search("holiday")] == [titled.id]
    assert store.search("nothing like this") == []
    assert len(store.search("  ")) == 4


def test_huge_text(store: ConversationStore, db: Path) -> None:
    conv = store.new_conversation()
    text = "".join(chr(0x20 + (i * 7919) % 0x2FF0) for i in range(120_000))
    store.add_message(conv.id, "assistant", text)
    store.close()
    with ConversationStore(db) as again:
        assert again.messages(conv.id)[0].text == text


def test_closed_store(db: Path) -> None:
    s = ConversationStore(db)
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        s.list_conversations()


def check_moved_aside(db: Path, content: bytes | None) -> None:
    moved = [p for p in db.parent.iterdir() if re.fullmatch(rf"{db.name}\.corrupt-\d{{8}}-\d{{6}}", p.name)]
    assert len(moved) == 1
    if content is not None:
        assert moved[0].read_bytes() == content


def test_garbage_file_is_moved_aside(db: Path) -> None:
    db.parent.mkdir(parents=True)
    garbage = b"this is not sqlite " + os.urandom(8000)
    db.write_bytes(garbage)
    Path(f"{db}-wal").write_bytes(os.urandom(100))
    with pytest.warns(RuntimeWarning, match=r"damaged; moved it to .*\.corrupt-\d{8}-\d{6}") as record:
        store = ConversationStore(db)
    assert len(record) == 1 and "\n" not in str(record[0].message)
    check_moved_aside(db, garbage)
    assert list(db.parent.glob("*.corrupt-*-wal"))
    with store:
        conv = store.new_conversation()
        store.add_message(conv.id, "user", "fresh start")
        assert [m.text for m in store.messages(conv.id)] == ["fresh start"]


def test_damaged_pages_are_detected(db: Path) -> None:
    with ConversationStore(db) as s:
        conv = s.new_conversation()
        for i in range(200):
            s.add_message(conv.id, "user", f"{i} " + "lorem ipsum " * 40)
    size = db.stat().st_size
    assert size > 40_000
    with db.open("r+b") as f:  # keep the header, ruin the b-tree pages after it
        f.seek(4096)
        f.write(b"\xa5" * (size - 8192))
    with pytest.warns(RuntimeWarning, match="damaged"):
        store = ConversationStore(db)
    check_moved_aside(db, None)
    with store:
        assert store.list_conversations() == []


def test_newer_schema_is_refused(db: Path) -> None:
    ConversationStore(db).close()
    conn = raw(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer Sori"):
        ConversationStore(db)


def test_locked_database(db: Path) -> None:
    with ConversationStore(db) as s:
        conv = s.new_conversation()
    other = raw(db)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    with ConversationStore(db, timeout=0.2) as s:
        with pytest.raises(
            StoreError, match=r"^the conversation database .* is locked by another program \("
        ):
            s.add_message(conv.id, "user", "waiting")
        other.execute("ROLLBACK")
        s.add_message(conv.id, "user", "now it works")
        assert len(s.messages(conv.id)) == 1
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("UPDATE conversations SET title = 'x'")
    with pytest.raises(StoreError, match="is locked by another program"):
        ConversationStore(db, timeout=0.2)
    other.close()


CHILD = """
import sys
from pathlib import Path
from assistant.store import ConversationStore

store = ConversationStore(Path(sys.argv[1]))
conv = store.new_conversation()
print(conv.id, flush=True)
i = 0
while True:
    store.add_message(conv.id, "user" if i % 2 == 0 else "assistant", f"message {i} " + "x" * (i % 700))
    print(i, flush=True)  # printed only after the commit returned
    i += 1
"""


def test_killed_writer_loses_no_committed_message(db: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        assert first.strip().isdigit(), proc.stderr.read() if proc.stderr else ""
        conv_id = int(first)
        printed = []
        deadline = time.monotonic() + 60
        while len(printed) < 300 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "the writer stopped early"
            printed.append(int(line))
        os.kill(proc.pid, 9)  # SIGKILL mid-loop: no cleanup, no close
        proc.wait(timeout=30)
        printed += [int(x) for x in proc.stdout.read().split()]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -9

    with ConversationStore(db) as s:
        texts = [m.text.split()[1] for m in s.messages(conv_id)]
    assert texts == [str(i) for i in range(len(texts))]  # in order, no gaps
    assert len(texts) in (printed[-1] + 1, printed[-1] + 2)  # the last may commit unprinted
    conn = raw(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-thread"])
def test_concurrent_writers_lose_nothing(db: Path, shared: bool) -> None:
    main = ConversationStore(db)
    conv = main.new_conversation()
    errors: list[BaseException] = []
    per_thread = 100

    def work(n: int) -> None:
        try:
            s = main if shared else ConversationStore(db, timeout=30)
            for i in range(per_thread):
                s.add_message(conv.id, "user", f"{n}:{i}")
                if i % 10 == 0:
                    s.list_conversations()  # readers mixed in with the writes
            if not shared:
                s.close()
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    texts = [m.text for m in main.messages(conv.id)]
    main.close()
    assert len(texts) == 4 * per_thread
    for n in range(4):  # each thread's messages arrive complete and in its own order
        assert [t for t in texts if t.startswith(f"{n}:")] == [f"{n}:{i}" for i in range(per_thread)]
