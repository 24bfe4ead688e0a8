"""The terminal chat and the remaining CLI commands, run as a user runs them."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
import wave

import pytest

from assistant.store import ConversationStore
from tests.conftest import REPO, assert_clean_error


def test_chat_streams_keeps_history_and_commands(sori, tmp_path):
    r = sori("chat", input="What is the capital of France?\n/history\n/new\nHello\n")
    assert r.returncode == 0, r.stderr
    assert "paris" in r.stdout.lower()
    assert "user> What is the capital of France?" in r.stdout
    assert "(new conversation 2)" in r.stdout
    store = ConversationStore(tmp_path / "data" / "conversations.sqlite3")
    convs = store.list_conversations()
    assert len(convs) == 2
    first = store.messages(convs[-1].id)
    assert [m.role for m in first] == ["user", "assistant"] and "paris" in first[1].text.lower()
    # Starting again continues the latest conversation; --new starts another.
    r = sori("chat", input="/history\n")
    assert "user> Hello" in r.stdout and "Paris" not in r.stdout
    r = sori("chat", "--new", input="")
    assert r.returncode == 0 and len(store.list_conversations()) == 3


@pytest.mark.slow  # the real `sori`, started by hand
def test_ctrl_c_stops_the_answer_not_the_chat(config_file, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=os.environ.copy(),
        bufsize=0,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write("Write the numbers from one to two hundred in words, separated by commas.\n")
    proc.stdin.flush()
    seen = ""
    deadline = time.monotonic() + 120
    while len(seen) < 20 and time.monotonic() < deadline:
        # select, so a reply that never comes fails the test at the deadline instead of hanging it
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            seen += os.read(proc.stdout.fileno(), 64).decode()
    if len(seen) < 20:
        proc.kill()
    assert len(seen) >= 20, f"the answer did not stream: {seen!r}"
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    rest, err = proc.communicate(input="/history\n", timeout=120)
    assert proc.returncode == 0, err
    assert "[stopped]" in rest
    assert "[cut off]" in rest  # the partial answer is kept and marked
    assert "Traceback" not in err


def test_chat_speak_to_wav(sori, tmp_path):
    out = tmp_path / "chat.wav"
    r = sori("chat", "--speak", "--audio-out", str(out), input="Say hello in one short sentence.\n")
    assert r.returncode == 0, r.stderr
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() > 0.3  # "Hello!" is short


def test_ask_audio_out(sori, tmp_path):
    out = tmp_path / "answer.wav"
    r = sori("-v", "ask", "--audio-out", str(out), "What is the capital of France?")
    assert r.returncode == 0, r.stderr
    assert "paris" in r.stdout.lower()
    assert "first_audio_ms" in r.stderr  # -v prints per-stage timings
    with wave.open(str(out)) as w:
        assert w.getframerate() == 24000 and w.getnframes() > 24000 // 2  # the default voice, hibari


def test_no_speaker_is_a_clear_error(sori):
    r = sori("say", "hello")
    if r.returncode == 0:
        return  # this machine has a sound card
    assert_clean_error(r, "audio output", "-o FILE.wav")


def test_invalid_config_value(sori, config_file):
    config_file.write_text('profile = "small"\n[llm]\ntemperature = 9\n')
    r = sori("ask", "hi")
    assert_clean_error(r, "config.toml:3", "llm.temperature")
    config_file.write_text('profile = "small"\n[stt]\nmodle = "x"\n')
    assert_clean_error(sori("config", "show"), "stt.modle", "unknown key")


def test_config_commands(sori, config_file):
    r = sori("config", "path")
    assert r.returncode == 0 and r.stdout.strip() == str(config_file)
    r = sori("config", "show")
    assert r.returncode == 0 and "temperature = 0.0" in r.stdout
    env_editor = {"VISUAL": "true"}
    os.environ.update(env_editor)
    try:
        r = sori("config", "edit")
    finally:
        del os.environ["VISUAL"]
    assert r.returncode == 0 and "ok" in r.stdout


def test_corrupt_database_is_moved_aside(sori, tmp_path):
    db = tmp_path / "data" / "conversations.sqlite3"
    db.parent.mkdir(parents=True)
    db.write_bytes(os.urandom(8192))
    r = sori("ask", "What is the capital of France?")
    assert r.returncode == 0, r.stderr
    assert "paris" in r.stdout.lower()
    warnings = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("sori: warning:") and "corrupt" in warnings[0]
    assert list(db.parent.glob("conversations.sqlite3.corrupt-*"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_doctor(sori, tmp_path, monkeypatch):
    r = sori("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[ok  ] model llm" in r.stdout and "all required checks passed" in r.stdout
    monkeypatch.setenv("SORI_MODELS_DIR", str(tmp_path / "empty"))
    r = sori("doctor")
    assert r.returncode == 1
    assert "[FAIL] model stt" in r.stdout and "fix: sori --profile small models install" in r.stdout


def test_listen_without_a_microphone_carries_on_in_text(sori):
    """No input device here: one line says so, and the typed question is still answered."""
    result = sori("chat", "--listen", "--new", input="What is the capital of France?\n")
    assert result.returncode == 0, result.stderr
    assert "no microphone found" in result.stderr and "Traceback" not in result.stderr
    assert "paris" in result.stdout.lower()
