"""Trying plugin files in a separate process first, where a hung or exiting import can be stopped.

Python cannot stop a thread: a plugin file that loops forever while it is imported would keep a core busy
for the rest of the session, and one that calls os._exit() would end Sori. So each plugin file is first
imported by a checking process; only a file that imported there, in time, is imported into Sori. The
checking process is started once and serves one file after another; a file that hangs or ends it is
reported (where it hung: faulthandler's dump gives the line) and a fresh process serves the next file.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import IO, Any

from .errors import LoadError

STARTUP_TIMEOUT_S = 60.0  # starting Python and importing pydantic, on a busy machine
GRACE_S = 3.0  # beyond the file's own limit, for the checker to dump where it hung and exit
FROZEN_FLAG = "--sori-plugin-probe"  # how a PyInstaller bundle is told to act as the checker
_FRAME = re.compile(r'File "(.*)", line (\d+) in ')


class Unchecked(Exception):
    """No checking process could be used: the caller imports the file in-process as before."""


class Probe:
    """One checking process, started on first use; not thread-safe (the registry loads one at a time)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.SimpleQueue[dict[str, Any] | None] | None = None
        self._dump: IO[bytes] | None = None
        self._ready = False
        self._failed = False  # could not be started: do not try again every poll

    def start(self) -> None:
        """Start the checking process now (its start-up then overlaps other work); no-op if running."""
        if self._failed or (self._proc is not None and self._proc.poll() is None):
            return
        self.close()
        dump = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the checker's life
        env = dict(os.environ)
        # The checker must find the same modules as Sori (a test run or a PYTHONPATH may have added some).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        posix = os.name == "posix"  # elsewhere no descriptor can be handed on: no dump, no line
        fd = str(dump.fileno() if posix else -1)
        if getattr(sys, "frozen", False):
            cmd = [sys.executable, FROZEN_FLAG, fd]
        else:
            cmd = [sys.executable, "-P", "-c", "from assistant.tools.probe import serve; serve()", fd]
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                pass_fds=(dump.fileno(),) if posix else (),
                start_new_session=True,  # Ctrl-C in the terminal is for Sori, not for the checker
            )
        except OSError as exc:
            dump.close()
            self._failed = True
            warnings.warn(f"plugin files are imported without a checking process ({exc})", stacklevel=2)
            return
        lines: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        threading.Thread(target=_pump, args=(proc.stdout, lines), name="sori-probe-read", daemon=True).start()
        self._proc, self._lines, self._dump, self._ready = proc, lines, dump, False

    def check(self, path: Path, timeout: float) -> LoadError | None:
        """Import path in the checking process: None if it imported in time, else why not.

        Raises Unchecked when no checking process can be had (the caller then imports as before).
        """
        self.start()
        if self._proc is None or self._lines is None or self._proc.stdin is None:
            raise Unchecked
        if not self._ready:
            if self._get(STARTUP_TIMEOUT_S) != {"ready": True}:
                self.close()
                self._failed = True
                warnings.warn(
                    "plugin files are imported without a checking process (it did not start)", stacklevel=2
                )
                raise Unchecked
            self._ready = True
        try:
            self._proc.stdin.write(json.dumps({"path": str(path), "timeout": timeout}) + "\n")
            self._proc.stdin.flush()
        except OSError:
            pass  # it ended: the answer below is None and says how
        answer = self._get(timeout + GRACE_S)
        if answer is not None:
            if answer.get("ok"):
                return None
            return LoadError(path, answer.get("line"), str(answer.get("message")))
        return self._ended(path, timeout)

    def _get(self, timeout: float) -> dict[str, Any] | None:
        assert self._lines is not None
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def _ended(self, path: Path, timeout: float) -> LoadError:
        """The checker hung or died on path: stop it, and say where the file hung or how it ended it."""
        proc, dump = self._proc, self._dump
        assert proc is not None and dump is not None
        if proc.poll() is None:
            proc.kill()
        status = proc.wait()
        dump.seek(0)
        text = dump.read().decode("utf-8", "replace")
        line = next((int(m.group(2)) for m in _FRAME.finditer(text) if m.group(1) == str(path)), None)
        self.close()
        if text.startswith("Timeout") or status == -signal.SIGKILL:
            return LoadError(path, line, f"did not finish loading within {timeout:g} s (a loop or a wait?)")
        if status < 0:
            try:
                how = f"crashed ({signal.Signals(-status).name})"
            except ValueError:
                how = f"crashed (signal {-status})"
        else:
            how = f"ended the process while loading (exit status {status}, e.g. os._exit)"
        return LoadError(path, line, f"{how}; a plugin file must only define its tools")

    def close(self) -> None:
        """Stop the checking process (if any); the next check starts a fresh one."""
        proc, self._proc, self._ready = self._proc, None, False
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()  # the checker's signal to exit
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._dump is not None:
            self._dump.close()
            self._dump = None


def _pump(stream: IO[str], lines: queue.SimpleQueue[dict[str, Any] | None]) -> None:
    """Read the checker's answers (one JSON object a line) until it ends; None marks the end."""
    try:
        for raw in stream:
            try:
                lines.put(json.loads(raw))
            except json.JSONDecodeError:
                continue
    except (OSError, ValueError):
        pass
    lines.put(None)


def serve(dump_fd: int | None = None) -> None:
    """The checking process: import each file named on stdin, answer on stdout, until stdin closes.

    The plugin's own prints go nowhere (the answers keep a private copy of stdout), and faulthandler ends
    the process with a dump of where it was if a file runs past its limit.
    """
    import faulthandler

    if dump_fd is None:
        dump_fd = int(sys.argv[-1])
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)  # a plugin reading input() or printing must not touch the conversation
    if dump_fd < 0:
        dump_fd = null
    faulthandler.enable(file=dump_fd)  # a crash (a C extension's segfault) dumps its line too
    from .importer import try_import

    answers.write(json.dumps({"ready": True}) + "\n")
    for request in requests:
        job = json.loads(request)
        faulthandler.dump_traceback_later(float(job["timeout"]), exit=True, file=dump_fd)
        answer = try_import(Path(job["path"]))
        faulthandler.cancel_dump_traceback_later()
        answers.write(json.dumps(answer) + "\n")
