"""Plugins that misbehave on purpose: hung, exiting and crashing imports, huge, odd and failing results.

Each file is imported by a checking process first, so a loop at import is stopped for real (it once kept
a core busy for the whole session after being reported) and os._exit() at import no longer ends Sori.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assistant.tools import ToolExecutor, ToolRegistry
from assistant.tools import importer as importer_module
from tests.conftest import REPO

GOOD = '''
from assistant.tools import tool

@tool(patterns=[r"^give me the good result$"])
def good_result() -> dict:
    """A well-behaved tool."""
    return {"message": "All good here."}
'''

# At import: each of these must disable its own file only.
LOOPS = "from assistant.tools import tool\ncount = 0\nwhile True:\n    count += 1\n"  # stuck on lines 3-4
SLEEPS = "import time\ntime.sleep(3600)\n"
EXITS = "import os\nos._exit(7)\n"
CRASHES = "import ctypes\nctypes.string_at(0)\n"
READS_STDIN = "line = input()\n"  # must not eat a line the user typed to the chat

# When called: each of these must become an error or a cut result, never the end of the chat.
RESULTS = '''
from assistant.tools import tool

@tool(patterns=[r"^give me the huge result$"])
def huge_result() -> str:
    """50 MB of text."""
    return "x" * (50 * 1024 * 1024)

@tool(patterns=[r"^give me the odd result$"])
def odd_result() -> dict:
    """Something JSON cannot hold."""
    return {"value": object()}

@tool(patterns=[r"^give me the failing result$"])
def failing_result() -> str:
    """Raises."""
    raise RuntimeError("the plugin broke\\nacross lines")

@tool(patterns=[r"^give me the undecodable result$"])
def undecodable_result() -> str:
    """A file name as os.listdir gives an undecodable one."""
    return b"report-\\xff.txt".decode("utf-8", "surrogateescape")
'''


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(0o644)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "plugins"
    path.mkdir()
    path.chmod(0o755)
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_hung_exiting_and_crashing_imports_are_reported_and_stopped(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer_module, "IMPORT_TIMEOUT_S", 1.0)
    write(folder, "good.py", GOOD)
    for name, text in {
        "loops.py": LOOPS,
        "sleeps.py": SLEEPS,
        "exits.py": EXITS,
        "crashes.py": CRASHES,
        "reads.py": READS_STDIN,
    }.items():
        write(folder, name, text)
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()  # os._exit(7) at import used to end this very process
    assert list(registry.tools) == ["good_result"]
    errors = {e.file.name: e for e in registry.errors}
    loops = errors["loops.py"]
    assert loops.line in (3, 4)  # in the loop, where the dump caught it
    where = f"{folder.resolve() / 'loops.py'}:{loops.line}"
    assert str(loops) == f"{where}: did not finish loading within 1 s (a loop or a wait?)"
    assert errors["sleeps.py"].line == 2 and "did not finish loading" in errors["sleeps.py"].message
    assert "exit status 7" in errors["exits.py"].message and errors["exits.py"].line is None
    assert errors["crashes.py"].message.startswith("crashed (SIGSEGV)") and errors["crashes.py"].line == 2
    assert errors["reads.py"].message == "EOFError while loading: EOF when reading a line"
    # Nothing of them runs on here: this process stays idle.
    before = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - before < 0.2
    assert not [t for t in threading.enumerate() if t.name.startswith("sori-load-")]


def test_the_watcher_still_reloads_at_once_and_stops_a_file_edited_to_loop(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer_module, "IMPORT_TIMEOUT_S", 1.0)
    registry = ToolRegistry([folder], entry_points=False)
    registry.start_watching(interval=0.1)
    try:
        path = write(folder, "good.py", GOOD)
        took = wait_for(
            lambda: "good_result" in registry.tools, 2
        )  # the checker was started with the watcher
        assert took < 1.5
        path.write_text(GOOD.replace("good_result", "better_result"))
        took = wait_for(lambda: "better_result" in registry.tools, 2)
        assert took < 1.5  # the checker is kept while watching: an edit is live within a second or so
        path.write_text(LOOPS)
        wait_for(lambda: any(e.file.name == "good.py" for e in registry.errors), 5)
        # Stuck in the loop: on the `while` (line 3) or in its body (line 4), as the dump's moment falls.
        assert [e.line for e in registry.errors] in ([3], [4]) and registry.tools == {}
        before = time.process_time()
        time.sleep(1.0)
        assert time.process_time() - before < 0.2
        path.write_text(GOOD)  # fixed: back within a poll or two
        wait_for(lambda: "good_result" in registry.tools, 5)
        assert registry.errors == []
    finally:
        registry.stop_watching()


def wait_for(condition, seconds: float) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "not within the time a user would wait"
        time.sleep(0.02)
    return time.monotonic() - start


def test_huge_odd_failing_and_undecodable_results(folder: Path) -> None:
    write(folder, "results.py", RESULTS)
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    executor = ToolExecutor(registry, default_timeout=10, max_result_chars=4000)
    huge = executor.call("huge_result", {})
    assert (
        huge.ok and len(huge.content) == 4000 and "[truncated: 52,428,802 characters in all]" in huge.content
    )
    odd = executor.call("odd_result", {})
    assert not odd.ok and "returned a value of type object, which cannot be turned into JSON" in odd.error
    failing = executor.call("failing_result", {})
    assert failing.error == "tool failing_result failed: RuntimeError: the plugin broke across lines"
    name = executor.call("undecodable_result", {})
    assert name.ok and name.content == '"report-\ufffd.txt"'
    name.content.encode("utf-8")  # storable and tokenizable


def answers_in(out: bytes) -> int:
    return sum(1 for line in out.decode(errors="replace").splitlines() if not line.startswith("(new "))


def test_a_chat_survives_every_kind_of_bad_plugin_and_goes_idle(
    sori, config_file: Path, folder: Path, tmp_path: Path
) -> None:
    """The real `sori chat`, fed from a pipe that stays open: answers, then uses no CPU while idle."""
    # The looping file is given 3 s, not the default 10, in the chat and in `sori plugins list`.
    config_file.write_text(config_file.read_text() + "[plugins]\nload_timeout_s = 3\n")
    write(folder, "good.py", GOOD)
    write(folder, "results.py", RESULTS)
    write(folder, "loops.py", LOOPS)
    write(folder, "exits.py", EXITS)
    write(folder, "reads.py", READS_STDIN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--plugins-dir", str(folder), "chat", "--new"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=os.environ.copy(),
    )
    assert proc.stdin and proc.stdout and proc.stderr
    requests = ["huge", "odd", "failing", "undecodable", "good"]
    for word in requests:  # each in a conversation of its own: a 4000-character result makes a long prompt
        proc.stdin.write(f"give me the {word} result\n/new\n".encode())
    proc.stdin.flush()  # and the pipe stays open: the chat waits for more
    out = b""
    deadline = time.monotonic() + 500
    try:
        while answers_in(out) < len(requests) and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        answers = [a for a in out.decode().splitlines() if not a.startswith("(new conversation")]
        assert len(answers) == len(requests), (out[-2000:], proc.poll())
        assert "[truncated: 52,428,802 characters in all]" in answers[0] and "xxxx" in answers[0]
        assert answers[1].startswith(
            "Sorry, that did not work: tool odd_result returned a value of type object"
        )
        failed = "Sorry, that did not work: tool failing_result failed: RuntimeError: the plugin broke"
        assert answers[2] == failed + " across lines"  # one line, as every answer
        assert "report-\ufffd.txt" in answers[3]
        assert answers[4] == "All good here."
        # Idle with the loop plugin reported: the process must not spin (it used a whole core).
        time.sleep(1.0)
        before = cpu_seconds(proc.pid)
        time.sleep(3.0)
        used = cpu_seconds(proc.pid) - before
        assert used < 0.5, f"{used:.2f} s of CPU in 3 s of idle chat"
    except BaseException:
        proc.kill()
        raise
    finally:
        _, err = proc.communicate(timeout=60)  # closes stdin: the chat ends as on Ctrl-D
    stderr = err.decode()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    listed = sori("--plugins-dir", str(folder), "plugins", "list")
    loops = folder.resolve() / "loops.py"
    # Where it hung comes from the checking process's traceback dump, taken while the loop runs: on the
    # `while` (line 3) or in its body (line 4), as the moment falls.
    said = listed.stdout + listed.stderr
    hung = re.search(rf"{re.escape(str(loops))}:(\d+): did not finish loading within 3 s", said)
    assert hung and hung.group(1) in ("3", "4"), said
    assert "exit status 7" in listed.stdout + listed.stderr


def test_without_a_checking_process_a_python_loop_is_still_stopped(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where no checking process can be started, the file is imported here on a thread as before; a thread
    # cannot be killed, but a Python loop in it is ended by an exception raised inside it.
    from assistant.tools.probe import Probe, Unchecked

    def unavailable(self, path, timeout):
        raise Unchecked

    monkeypatch.setattr(Probe, "check", unavailable)
    monkeypatch.setattr(importer_module, "IMPORT_TIMEOUT_S", 0.5)
    write(folder, "good.py", GOOD)
    write(folder, "loops.py", LOOPS)
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    assert list(registry.tools) == ["good_result"]
    assert "did not finish loading within 0.5 s" in registry.errors[0].message
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == "sori-load-loops.py"], 2)
    before = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - before < 0.2
