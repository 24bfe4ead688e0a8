"""Bytes that are not UTF-8, typed, piped or passed as an argument: replaced, said once, and answered.

They used to end the session with `UnicodeEncodeError ... surrogates not allowed` from the tokenizer, and
the question was lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.store import ConversationStore
from assistant.text.utf8 import NOT_UTF8, scrub
from tests.conftest import REPO

# The real `sori` in a process: the locale decides how its stdin is decoded.
pytestmark = pytest.mark.slow
NOTE = f"sori: note: {NOT_UTF8}"


def run(args: list[bytes | str], stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        env={**os.environ, **env},
        timeout=300,
    )


def stored(tmp_path: Path) -> list[list[tuple[str, str]]]:
    store = ConversationStore(tmp_path / "data" / "conversations.sqlite3")
    try:
        return [[(m.role, m.text) for m in store.messages(c.id)] for c in store.list_conversations()]
    finally:
        store.close()


@pytest.mark.parametrize(
    "locale",
    [
        {"PYTHONUTF8": "1"},  # stdin keeps bad bytes as surrogates: the tokenizer failed on them
        {"PYTHONUTF8": "0", "LC_ALL": "C.UTF-8"},  # strict stdin: input() itself failed
    ],
)
def test_chat_replaces_bad_bytes_says_so_once_and_answers(config_file, tmp_path: Path, locale) -> None:
    r = run(["chat", "--new"], b"Hi th\xff\xfere\nAnd hello ag\xc3ain\n", **locale)
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert "Traceback" not in err
    assert err.count(NOTE) == 1  # told once, not once per line
    [conversation] = stored(tmp_path)
    roles = [role for role, _ in conversation]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert conversation[0][1] == "Hi th\ufffd\ufffdre"
    assert conversation[2][1] == "And hello ag\ufffdain"
    assert all(text.strip() for _, text in conversation)  # both turns answered and stored


def test_ask_with_a_bad_byte_argument(config_file, tmp_path: Path) -> None:
    r = run(["ask", b"Hi \xff\xfe, what is two plus two?"])
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert err.count(NOTE) == 1 and "Traceback" not in err
    assert r.stdout.decode().strip()
    [conversation] = stored(tmp_path)
    assert conversation[0] == ("user", "Hi \ufffd\ufffd, what is two plus two?")
    assert conversation[1][0] == "assistant" and conversation[1][1]


@pytest.mark.parametrize(
    "raw,clean",
    [
        (b"caf\xc3\xa9", "café"),  # valid UTF-8 is left alone
        (b"Hi th\xff\xfere", "Hi th\ufffd\ufffdre"),
        (b"cut \xe2\x82", "cut \ufffd"),  # a sequence cut short: one replacement, as decoders do
        (b"\xed\xa0\x80", "\ufffd\ufffd\ufffd"),  # an encoded surrogate is not UTF-8 either
    ],
)
def test_scrub_replaces_like_a_utf8_decoder(raw: bytes, clean: str) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    assert scrub(text) == clean == raw.decode("utf-8", "replace")
    assert scrub("lone \ud800 surrogate") == "lone \ufffd surrogate"  # from a plugin, not from bytes
    assert scrub("plain Zürich") == "plain Zürich"
