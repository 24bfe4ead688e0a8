"""Hostile input, part 1: bad files, text and config given to every command, through the real `sori`.

Each row: no traceback, one line that says what to do, the exit status, the user's files unchanged.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import threading
import wave
from pathlib import Path

import pytest

from tests.conftest import SHARED, TEST_CONFIG
from tests.hostile import Row, run_table, world_dir

pytestmark = pytest.mark.slow  # the real `sori`, a process per row

SPEECH = SHARED / "audio" / "jfk.flac"
# Where the answer itself is not what is tested: a few tokens, no tool schemas in the prompt.
TERSE = TEST_CONFIG.replace("max_tokens = 96", "max_tokens = 12") + "[plugins]\nenabled = false\n"
THREADS: list[threading.Thread] = []


def bad_files(d: Path) -> None:
    """The user's folder of awkward files, the same for every row."""
    (d / "empty.wav").write_bytes(b"")
    # Seeded: now and then random bytes pass for a container with no audio stream (another message).
    (d / "random.wav").write_bytes(random.Random(0).randbytes(4096))
    shutil.copy(SPEECH, d / "ünï cødé spaces.txt")  # real audio; a wrong extension, an awkward name
    with (d / "huge.wav").open("wb") as f:  # sparse: no disk used
        f.truncate(3 * 10**9)
    with (d / "big.wav").open("wb") as f:
        f.truncate(100 * 10**6)
    os.mkfifo(d / "fifo.wav")
    (d / "folder.wav").mkdir()
    shutil.copy(SPEECH, d / "unreadable.flac")
    (d / "unreadable.flac").chmod(0o000)
    (d / "loop-a.wav").symlink_to(d / "loop-b.wav")
    (d / "loop-b.wav").symlink_to(d / "loop-a.wav")
    (d / "answer.wav").write_bytes(b"the user's old file")
    (d / "link.wav").symlink_to("answer.wav")
    (d / "locked").mkdir(mode=0o555)
    (d / "plugin.py").write_bytes(b"\xff\xfe" + random.Random(1).randbytes(200))


def read_fifo(d: Path) -> None:
    bad_files(d)
    got = d.parent / f"{d.name}.fifo-read"

    def reader() -> None:
        with (d / "fifo.wav").open("rb") as f:
            got.write_bytes(f.read())

    THREADS.append(threading.Thread(target=reader, daemon=True))
    THREADS[-1].start()


def wav_seconds(data: bytes | Path) -> float:
    import io

    with wave.open(io.BytesIO(data) if isinstance(data, bytes) else str(data)) as w:
        return w.getnframes() / w.getframerate()


def fifo_got_a_wav(d: Path, result) -> None:
    got = d.parent / f"{d.name}.fifo-read"
    assert got.is_file() and wav_seconds(got.read_bytes()) > 0.2, "the FIFO's reader got no WAV"
    assert stat.S_ISFIFO((d / "fifo.wav").lstat().st_mode), "the FIFO was replaced"


def dev_null_kept(d: Path, result) -> None:
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode), "/dev/null is no longer a device"


def replaced_atomically(d: Path, result) -> None:
    assert wav_seconds(d / "answer.wav") > 0.2
    assert (d / "link.wav").is_symlink(), "the link was replaced instead of the file it points to"


def nothing_stored(d: Path, result) -> None:
    db = d.parent / f"{d.name}.data" / "conversations.sqlite3"
    assert not db.exists(), "the answer was computed and stored before the bad output path was refused"


def broken_plugins(d: Path) -> None:
    bad_files(d)
    plugins = d.parent / f"{d.name}.config" / "plugins"
    plugins.mkdir(mode=0o755)
    (plugins / "syntax.py").write_text("def broken(:\n")
    (plugins / "raises.py").write_text("raise RuntimeError('plugin failed at import')\n")


def no_change(models: Path) -> None:
    """The models as installed, in a folder another user can read."""


def secret_masked(d: Path, result) -> None:
    assert "sk-very-secret" not in result.stdout and 'api_key = "********"' in result.stdout, result.stdout


def say(target: str) -> list[str]:
    return ["say", "Hello there.", "-o", target]


ROWS = [
    # say -o: where the audio goes
    Row("say-o-folder", say("{d}/folder.wav"), 1, ("is a folder", "give a file name"), bad_files),
    Row("say-o-missing-folder", say("{d}/nowhere/x.wav"), 1, ("does not exist",), bad_files),
    Row("say-o-loop", say("{d}/loop-a.wav"), 1, ("cannot be written", "choose another file"), bad_files),
    Row("say-o-locked-folder", say("{d}/locked/x.wav"), 1, ("permission denied",), bad_files, nobody=True),
    Row("say-o-fifo", say("{d}/fifo.wav"), 0, setup=read_fifo, line="none", check=fifo_got_a_wav),
    Row("say-o-dev-null", say("/dev/null"), 0, setup=bad_files, line="none", check=dev_null_kept),
    Row(
        "say-o-dev-null-nobody",
        say("/dev/null"),
        0,
        setup=bad_files,
        line="none",
        nobody=True,
        models=no_change,
    ),
    Row(
        "say-o-existing-via-link",
        say("{d}/link.wav"),
        0,
        setup=bad_files,
        line="none",
        changes=("answer.wav",),
        check=replaced_atomically,
    ),
    Row(
        "say-o-unicode",
        say("{d}/ünï cødé out.wav"),
        0,
        setup=bad_files,
        line="none",
        changes=("ünï cødé out.wav",),
    ),
    # say: the text
    Row("say-empty-text", ["say", "  ", "-o", "{d}/x.wav"], 1, ("empty",), bad_files),
    Row("say-120k-text", ["say", "word " * 24_000, "-o", "{d}/x.wav"], 1, ("limit", "split it"), bad_files),
    # ask --audio-out / --audio-in
    Row(
        "ask-out-folder",
        ["ask", "--audio-out", "{d}/folder.wav", "Hi"],
        1,
        ("is a folder",),
        bad_files,
        check=nothing_stored,
    ),
    Row("ask-in-empty", ["ask", "--audio-in", "{d}/empty.wav"], 1, ("empty",), bad_files),
    Row(
        "ask-in-random",
        ["ask", "--audio-in", "{d}/random.wav"],
        1,
        ("cannot be decoded", "use wav"),
        bad_files,
    ),
    Row(
        "ask-in-fifo",
        ["ask", "--audio-in", "{d}/fifo.wav"],
        1,
        ("not a regular file", "save the audio"),
        bad_files,
    ),
    Row("ask-in-device", ["ask", "--audio-in", "/dev/zero"], 1, ("not a regular file",), bad_files),
    Row(
        "ask-in-unreadable",
        ["ask", "--audio-in", "{d}/unreadable.flac"],
        1,
        ("permission denied", "chmod"),
        bad_files,
        nobody=True,
    ),
    # nobody at a terminal to say yes, and two plugin files that do not load: each said in one line
    Row(
        "ask-confirm-without-terminal",
        ["ask", "Open example.org in my browser"],
        0,
        ("2 plugin files failed to load", "sori plugins list"),
        broken_plugins,
        line="warning",
        stdout_needles=("no terminal to ask on",),
    ),
    # ask: the text
    Row("ask-empty-text", ["ask", ""], 1, ("question",), bad_files),
    Row("ask-120k-text", ["ask", "why " * 30_000], 1, ("limit", "shorten"), bad_files),
    # transcribe: one process for many bad files, the good ones still transcribed
    Row(
        "transcribe-mixed",
        [
            "transcribe",
            *(
                f"{{d}}/{n}"
                for n in (
                    "empty.wav",
                    "random.wav",
                    "huge.wav",
                    "big.wav",
                    "fifo.wav",
                    "folder.wav",
                    "loop-a.wav",
                    "ünï cødé spaces.txt",
                )
            ),
        ],
        1,
        setup=bad_files,
        line="each",
        needles=(
            "empty",
            "cannot be decoded",
            "more than 2 GB",
            "cannot be decoded",
            "not a regular file",
            "is a folder",
            "symbolic links",
        ),
        stdout_needles=("spaces.txt: And so my fellow Americans",),
    ),
    Row(
        "transcribe-unreadable",
        ["transcribe", "{d}/unreadable.flac"],
        1,
        ("permission denied",),
        bad_files,
        nobody=True,
    ),
    Row("transcribe-huge", ["transcribe", "{d}/huge.wav"], 1, ("more than 2 GB", "cut it"), bad_files),
    Row("transcribe-dev-zero", ["transcribe", "/dev/zero"], 1, ("not a regular file",), bad_files),
    # plugins check on files that are not plugins
    Row(
        "plugins-check-folder",
        ["plugins", "check", "{d}/folder.wav"],
        1,
        ("is a folder", ".py file"),
        bad_files,
    ),
    Row("plugins-check-fifo", ["plugins", "check", "{d}/fifo.wav"], 1, ("not a regular file",), bad_files),
    Row(
        "plugins-check-binary",
        ["plugins", "check", "{d}/plugin.py"],
        1,
        ("plugin.py",),
        bad_files,
        line="one",
    ),
    # chat: text that is not a question
    Row(
        "chat-nul-control-long",
        ["chat", "--new"],
        0,
        setup=bad_files,
        stdin="x" * 120_000 + "\nSay hi\x00 \x1b[2J\x07\x08there\n/history\n",  # NUL, ESC, BEL, BS
        config=TERSE,
        stdout_needles=("user> Say hi",),
        line="error",
        needles=("limit", "shorten"),
    ),
    Row(
        "chat-audio-out-folder",
        ["chat", "--speak", "--audio-out", "{d}/folder.wav"],
        1,
        ("is a folder",),
        bad_files,
    ),
    # config
    Row(
        "config-broken-toml",
        ["config", "show"],
        2,
        ("config.toml:2", "sori config edit"),
        config='profile = "small"\n[llm\n',
    ),
    Row("config-bad-value", ["ask", "hi"], 2, ("llm.temperature",), config='[llm]\ntemperature = "hot"\n'),
    Row(
        "config-unknown-key",
        ["say", "hi", "-o", "{d}/x.wav"],
        2,
        ("unknown key",),
        config="[tts]\nvoise = 1\n",
    ),
    Row("config-bad-profile", ["transcribe", "{d}/x.wav"], 2, ("profile",), config='profile = "huge"\n'),
    Row("config-binary", ["doctor"], 2, ("config.toml",), config="\x00\x01\x02 = 3\n"),
    Row(
        "config-show-masks-secrets",
        ["config", "show"],
        0,
        line="none",
        config=TEST_CONFIG + 'server_url = "http://127.0.0.1:9/v1"\napi_key = "sk-very-secret"\n',
        check=secret_masked,
    ),
]


@pytest.fixture(scope="module")
def base():
    d = world_dir("sori-hostile-files-")
    yield d
    for t in THREADS:
        t.join(timeout=1)
    shutil.rmtree(d, ignore_errors=True)


def test_bad_files_text_and_config(base: Path) -> None:
    wrong = run_table(ROWS, base)
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())


def test_stdout_carries_only_the_wav(config_file: Path) -> None:
    """`-o -` writes the WAV to stdout and nothing else goes there (a pipe into a player)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "assistant", *args]
        return subprocess.run(cmd, capture_output=True, cwd=REPO, env=os.environ.copy(), timeout=240)

    said = run("say", "Hello there.", "-o", "-")
    assert said.returncode == 0 and b"Traceback" not in said.stderr, said.stderr
    assert said.stdout[:4] == b"RIFF" and wav_seconds(said.stdout) > 0.2
    asked = run("ask", "--audio-out", "-", "What is the capital of France?")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout[:4] == b"RIFF" and wav_seconds(asked.stdout) > 0.3
    assert b"paris" in asked.stderr.lower()  # the text goes to stderr when stdout carries the audio
