"""The hostile-input table's runner: each row runs the real `sori` in its own folders and is checked for
no traceback, one line that says what to do, the exit status, and the user's files left as they were.

Rows run a few at a time (most fail in under a second, before any model loads), so the whole table costs
about as much as the few rows that load a model.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import MODELS_DIR, REPO, TEST_CONFIG

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
PARALLEL = 3


@dataclass
class Row:
    """One command on one bad input. `{d}` in args is the row's folder (the user's files)."""

    id: str
    args: list[str]
    status: int  # the exit status expected
    needles: tuple[str, ...] = ()  # words the one stderr line must hold (what went wrong, what to do)
    setup: Callable[[Path], None] | None = None  # makes the user's files (and Sori's) in the row folder
    stdin: str | None = None
    # "error": one "sori: error:" line; "warning": one "sori: warning:" line; "each": one error line per
    # needle, in order; "one": one line of any form; "none": no error or warning at all
    line: str = "error"
    nobody: bool = False  # as root, run as `nobody` (root reads and writes any file)
    config: str = TEST_CONFIG
    models: Callable[[Path], None] | None = None  # damages a private copy of the models
    signal_after: tuple[int, float] | None = None  # (signal, seconds after start)
    changes: tuple[str, ...] = ()  # user files the command is meant to write
    stdout_needles: tuple[str, ...] = ()
    check: Callable[[Path, Result], None] | None = None  # anything else the row promises
    timeout: float = 240


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str
    seconds: float
    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under folder (links, FIFOs and devices by their kind)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(folder))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            elif p.is_file():
                try:
                    h = hashlib.sha256()
                    with p.open("rb") as f:
                        if p.stat().st_size > 50_000_000:  # sparse giants: size and first bytes
                            h.update(f.read(1 << 20) + str(p.stat().st_size).encode())
                        else:
                            h.update(f.read())
                    out[rel] = h.hexdigest()
                except PermissionError:
                    out[rel] = f"unreadable:{p.stat().st_size}"
            else:
                out[rel] = "special"
    return out


def world_dir(prefix: str) -> Path:
    """A folder another user can enter (pytest's tmp_path is root's alone)."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d


def link_models(dest: Path, roles: tuple[str, ...] = ("stt", "llm", "tts")) -> Path:
    """A private models folder of hard links to the installed small models (no copy, never written)."""
    from assistant import models

    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o755)
    for role, model_id in models.profile_models("small").items():
        if role not in roles:
            continue
        src, out = MODELS_DIR / model_id, dest / model_id
        out.mkdir(exist_ok=True)
        out.chmod(0o755)
        for f in src.iterdir():
            target = out / f.name
            if f.name.endswith(".verified"):
                shutil.copy2(f, target)
            else:
                try:
                    os.link(f, target)
                except OSError:
                    target.symlink_to(f)
    return dest


def replace_file(path: Path, data: bytes | None = None, size: int | None = None, mode: int = 0o644) -> None:
    """Put a new file where a (linked) model file was: the installed original is never touched."""
    path.unlink()
    with path.open("wb") as f:
        if data:
            f.write(data)
        if size is not None:
            f.truncate(size)
    path.chmod(mode)


def run_row(row: Row, base: Path) -> Result:
    d = base / row.id
    d.mkdir(parents=True)
    d.chmod(0o777)
    cfg, data = base / f"{row.id}.config", base / f"{row.id}.data"
    for folder in (cfg, data):
        folder.mkdir()
        folder.chmod(0o777)
    (cfg / "config.toml").write_text(row.config)
    env = dict(os.environ, SORI_CONFIG_DIR=str(cfg), SORI_DATA_DIR=str(data), SORI_MODELS_DIR=str(MODELS_DIR))
    env.pop("SORI_CONFIG", None)
    if row.models is not None:
        env["SORI_MODELS_DIR"] = str(link_models(base / f"{row.id}.models"))
        row.models(base / f"{row.id}.models")
    if row.setup is not None:
        row.setup(d)
    before = digest(d)
    args = [a.replace("{d}", str(d)) for a in row.args]
    cmd = [sys.executable, "-m", "assistant", *args]
    if row.nobody and os.geteuid() == 0:  # root reads and writes anything; an ordinary user does not
        cmd = [*NOBODY, *cmd]
        env["HOME"] = str(base / f"{row.id}.home")  # libraries keep caches there, not among the user's files
        (base / f"{row.id}.home").mkdir(mode=0o777)
        (base / f"{row.id}.home").chmod(0o777)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        # A signalled command keeps its stdin open until the signal (a chat waiting for a line).
        stdin=subprocess.PIPE if row.stdin is not None or row.signal_after else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=env,
    )
    if row.signal_after is not None:
        sig, after = row.signal_after
        time.sleep(after)
        proc.send_signal(sig)
    try:
        out, err = proc.communicate(
            row.stdin.encode("utf-8", "surrogateescape") if row.stdin is not None else None,
            timeout=row.timeout,
        )
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += b"\n(the test killed it: no exit within the timeout)"
    return Result(
        proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        time.monotonic() - t0,
        before,
        digest(d),
    )


def problems(row: Row, result: Result, base: Path) -> list[str]:
    """Everything wrong with one row's run; empty when it behaved."""
    found = []
    err = result.stderr
    if "Traceback" in err or "terminate called" in err or "Fatal Python error" in err:
        found.append(f"a crash report on stderr: {err[-1500:]}")
    # As a shell sees it, killed by SIGINT is 130 too. `python -m` ends that way, after our line, when the
    # Ctrl-C landed inside an exec() while a module was imported (CPython 3.11 then marks it unhandled,
    # though it was caught); the installed `sori` script exits 130.
    status = 128 - result.status if result.status < 0 else result.status
    if status != row.status or (result.status < 0 and result.status != -signal.SIGINT):
        found.append(f"exit status {result.status}, expected {row.status}; stderr: {err[-600:]}")
    chat_banner = ("Sori (", "loading the chat model")
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("sori: note:", *chat_banner))]
    interrupted = row.signal_after is not None
    if row.line == "each":  # one error line per bad input, in order, each with its needle
        if len(lines) != len(row.needles) or not all(
            ln.startswith("sori: error: ") and n.lower() in ln.lower()
            for ln, n in zip(lines, row.needles, strict=False)
        ):
            found.append(f"expected one error line for each of {row.needles}, got {lines}")
    elif row.line == "one":  # a report in its own format (plugin load errors: file:line: error)
        if len(lines) != 1 or not all(n.lower() in lines[0].lower() for n in row.needles):
            found.append(f"expected one line with {row.needles}, got {lines}")
    elif row.line == "none":
        if any(ln.startswith(("sori: error", "sori: warning")) for ln in lines):
            found.append(f"an unexpected error or warning: {lines}")
    else:
        start = {"error": "sori: error: ", "warning": "sori: warning: "}[row.line]
        if interrupted:
            start = "sori: interrupted" if row.signal_after[0] == signal.SIGINT else "sori: terminated"
        own = [
            ln
            for ln in lines
            if ln.startswith(("sori: error", "sori: warning", "sori: interrupted", "sori: term"))
        ]
        if len(own) != 1 or not own[0].startswith(start):
            found.append(f"expected one line starting {start!r}, got {lines}")
        elif interrupted and len(lines) != 1:
            found.append(f"more than one line after the interrupt: {lines}")
        for needle in row.needles if row.line not in ("each", "one") else ():
            if own and needle.lower() not in own[0].lower():
                found.append(f"{needle!r} not in {own[0]!r}")
    for needle in row.stdout_needles:
        if needle.lower() not in result.stdout.lower():
            found.append(f"{needle!r} not on stdout: {result.stdout[-500:]!r}")
    changed = {
        k for k in set(result.before) | set(result.after) if result.before.get(k) != result.after.get(k)
    }
    leftovers = {k for k in result.after if k.endswith(".tmp")}
    unexpected = changed - set(row.changes) - leftovers
    if unexpected:
        found.append(f"user files changed or lost: {sorted(unexpected)}")
    if leftovers:
        found.append(f"temporary files left behind: {sorted(leftovers)}")
    if row.check is not None:
        try:
            row.check(base / row.id, result)
        except AssertionError as exc:
            found.append(f"check failed: {exc}")
    return found


@functools.cache
def nobody_can_run_sori() -> bool:
    """Whether the rows that need an ordinary user can run here (a checkout inside a private home
    folder cannot be read by `nobody`)."""
    probe = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import assistant.cli"],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    return probe.returncode == 0


def run_table(rows: list[Row], base: Path, parallel: int = PARALLEL) -> dict[str, list[str]]:
    """Run every row (a few at a time); {row id: its problems} for the rows that misbehaved."""
    assert len({r.id for r in rows}) == len(rows), "row ids must be unique"
    only = os.environ.get("SORI_HOSTILE_ONLY")  # while fixing one: SORI_HOSTILE_ONLY=say-o,ask-in
    if only:
        rows = [r for r in rows if r.id.startswith(tuple(only.split(",")))]
    if os.geteuid() == 0 and not nobody_can_run_sori():
        skipped = [r.id for r in rows if r.nobody]
        rows = [r for r in rows if not r.nobody]
        if skipped:
            warnings.warn(
                f"{len(skipped)} rows not run: `nobody` cannot read this checkout ({REPO}) or its Python: "
                + ", ".join(skipped),
                stacklevel=2,
            )
    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(lambda r: run_row(r, base), rows))
    if os.environ.get("SORI_HOSTILE_TIMES"):  # where the table's time goes
        for row, result in sorted(zip(rows, results, strict=True), key=lambda x: -x[1].seconds):
            print(f"{result.seconds:6.1f} s  {row.id}", file=sys.stderr)
    out = {}
    for row, result in zip(rows, results, strict=True):
        wrong = problems(row, result, base)
        if wrong:
            out[row.id] = wrong
    return out
