"""SIGKILL the app while an answer streams: completed messages survive, the database needs no repair."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assistant import paths
from assistant.store import ConversationStore
from tests.ui_support import open_window, shown_messages

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
FIRST = "What is the capital of France?"
SECOND = "Write a long, detailed story about a dragon who learns to bake bread."

# The real app (window, bridge, store, models from the test config) asking two questions in a row and
# printing a line per streamed piece, so the test knows when to kill it.
APP = textwrap.dedent(
    """
    import os, sys
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from assistant.config import load_settings
    from assistant.core import Assistant
    from ui.app import application, create_window

    app = application()
    window = create_window(Assistant(load_settings()))
    questions = sys.argv[1:]

    def ask(*_args):
        if questions:
            window.input.box.setPlainText(questions.pop(0))
            window.send()

    def shown(result):
        print("DONE", result.complete, flush=True)
        QTimer.singleShot(0, ask)

    window.ready.connect(ask)
    window.replyShown.connect(shown)
    window.bridge.replyDelta.connect(lambda _cid, text: print("DELTA", flush=True))
    window.show()
    app.exec()
    """
)


def test_killed_mid_answer_keeps_completed_messages(qtbot, config_file, small_settings, engines, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(APP)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    stderr = (tmp_path / "stderr.txt").open("w")  # a file, not a pipe: a full pipe would block the app
    proc = subprocess.Popen(
        [sys.executable, str(script), FIRST, SECOND],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines: list[str] = []
    killed = threading.Event()

    def watch() -> None:
        deltas_after_first = 0
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.strip())
            if any(x.startswith("DONE") for x in lines) and line.startswith("DELTA"):
                deltas_after_first += 1
                if deltas_after_first >= 3:  # the second answer is streaming: kill -9 now
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.set()
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    deadline = time.monotonic() + 300
    while not killed.is_set() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not killed.is_set():
        proc.kill()
        pytest.fail(
            f"the app was never mid-answer: {lines[-5:]} {(tmp_path / 'stderr.txt').read_text()[-2000:]}"
        )
    proc.wait(10)
    stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert "DONE True" in lines

    # The database is intact as it is, without repair (nothing was moved aside).
    db = paths.database_file()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list(db.parent.glob("*.corrupt-*"))

    # The completed turn is there; the killed answer is absent (it is written when it ends).
    with ConversationStore() as store:
        (conv,) = store.list_conversations()
        messages = [(m.role, m.text, m.complete) for m in store.messages(conv.id)]
    assert messages[:3] == [
        ("user", FIRST, True),
        ("assistant", messages[1][1], True),
        ("user", SECOND, True),
    ]
    assert "Paris" in messages[1][1]
    assert len(messages) == 3 or (len(messages) == 4 and not messages[3][2])

    # Started again, the window reopens that conversation with every completed message.
    window = open_window(qtbot, small_settings, engines)
    qtbot.waitUntil(lambda: window.current_id == conv.id and len(window.chat.messages) >= 3)
    assert shown_messages(window)[:3] == messages[:3]
