"""Build dist/sori/ with PyInstaller (packaging/sori.spec), then print its size and start-up times.

`make bundle` runs this with the project venv's Python, where PyInstaller is installed.
Cold figures: the bundle's own files are evicted from the page cache first (posix_fadvise), so every
library and model is read from disk again; the system's libraries (libc, X11) stay cached.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist" / "sori"
EXE = DIST / "sori"
QUESTION = "What is two plus two?"
# Greedy decoding and a fixed seed: the same answer every run, so runs compare.
REPEATABLE = "[llm]\ntemperature = 0.0\nseed = 7\n"


def build() -> float:
    start = time.monotonic()
    subprocess.run(
        [
            *("nice", "-n", "10"),  # the build takes both cores for minutes; leave room for the rest
            sys.executable,
            "-m",
            "PyInstaller",
            *("--noconfirm", "--clean", "--log-level", "WARN"),
            *("--distpath", str(ROOT / "dist"), "--workpath", str(ROOT / "build" / "bundle")),
            str(ROOT / "packaging" / "sori.spec"),
        ],
        check=True,
        cwd=ROOT,
    )
    return time.monotonic() - start


def files(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]


def size(path: Path, skip: Path | None = None) -> int:
    return sum(p.stat().st_size for p in files(path) if skip is None or not p.is_relative_to(skip))


def human(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def evict(path: Path) -> bool:
    """Drop the bundle's pages from the page cache; False where the OS cannot."""
    if not hasattr(os, "posix_fadvise"):
        return False
    os.sync()  # dirty pages are not dropped
    for p in files(path):
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of one run, and of those the answer's own (from -v's total_ms; 0 without one)."""
    cmd = [str(EXE), *args]
    if "--screenshot" in args:
        cmd = ["xvfb-run", "-a", *cmd]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"bundle: `sori {' '.join(args)}` failed ({proc.returncode}):\n{proc.stderr}")
    answer = re.search(r"\btotal_ms=(\d+)", proc.stderr)
    return elapsed, int(answer[1]) / 1000 if answer else 0.0


def split(run: tuple[float, float]) -> str:
    wall, answer = run
    # The chat model loads on the first question, so it counts in the answer's time.
    return f"{wall:.1f} s ({wall - answer:.1f} s start-up, then {answer:.1f} s to load the model and answer)"


def report(build_s: float | None) -> None:
    if not EXE.is_file():
        raise SystemExit(f"bundle: {EXE} is missing; build it first (make bundle)")
    total, no_models = size(DIST), size(DIST, skip=DIST / "_internal" / "models")
    with tempfile.TemporaryDirectory(prefix="sori-bundle-") as tmp:
        # An empty user models dir, so the answer comes from the bundled small models.
        env = {
            "HOME": tmp,
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "SORI_DATA_DIR": f"{tmp}/data",
            "SORI_CONFIG_DIR": f"{tmp}/config",
        }
        (Path(tmp) / "config").mkdir()
        (Path(tmp) / "config" / "config.toml").write_text(REPEATABLE)
        ask = ["--profile", "small", "-v", "ask", QUESTION]
        cold = evict(DIST)
        version_cold = timed(["--version"], env)[0]
        evict(DIST)
        ask_cold = timed(ask, env)
        version_warm = min(timed(["--version"], env)[0] for _ in range(3))
        ask_warm = min((timed(ask, env) for _ in range(2)), key=lambda run: run[0] - run[1])
        # The window: until it is ready (models loaded) and its picture saved, on a fresh Xvfb.
        window = ["--profile", "small", "--screenshot", f"{tmp}/window.png"]
        window_s: tuple[float, float] | None = None
        if shutil.which("xvfb-run"):
            evict(DIST)
            window_s = timed(window, env)[0], timed(window, env)[0]
    label = "the bundle's files evicted from the page cache" if cold else "first run (cache not dropped)"
    print()
    print("== Sori desktop bundle ==")
    if build_s is not None:
        print(f"build time:    {build_s:.0f} s (PyInstaller, nice 10)")
    print(f"folder:        {DIST}")
    print(f"size:          {human(total)} in all; {human(no_models)} without the bundled models")
    print(f"cold: {label}")
    print(f"sori --version: cold {version_cold:.1f} s; warm {version_warm:.2f} s")
    print(f'sori --profile small ask "{QUESTION}":')
    print(f"  cold {split(ask_cold)}")
    print(f"  warm {split(ask_warm)}")
    if window_s:
        print(f"window ready (sori --screenshot on Xvfb): cold {window_s[0]:.1f} s; warm {window_s[1]:.1f} s")
    else:
        print("window ready: not measured (no xvfb-run)")
    print(f"(load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-only", action="store_true", help="measure dist/sori without building")
    args = parser.parse_args()
    report(None if args.report_only else build())


if __name__ == "__main__":
    main()
