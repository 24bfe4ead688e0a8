"""`sori ARGS` run inside the test process, as the command would run in its own: the real argument parsing,
settings, engines and output, with stdin, stdout and stderr as files (fd 1 and 2 as well, so what native
libraries print is seen), the working folder, and Python's default warnings and logging.

A process starts Python and loads every model again; here each model is loaded once per test process and
reused while the settings that built it are the same. Whatever needs a process of its own (signals, exit
at a crash, a terminal on stdin, a cold start that a benchmark measures) runs in one: see `sori_process`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

# The filters Python starts with (pytest installs its own per test).
DEFAULT_WARNING_FILTERS = list(warnings.filters)
# Engines worth keeping: those that load a model file. Others are built anew on each call.
CACHED_ENGINES = {"WhisperSTT", "LlamaCppChat", "HibariTTS", "PiperTTS"}


class EngineCache:
    """Loaded engines by what built them: the class, the model file and every plain setting."""

    def __init__(self) -> None:
        self.engines: dict[tuple, object] = {}

    @staticmethod
    def key(engine: object) -> tuple | None:
        if type(engine).__name__ not in CACHED_ENGINES:
            return None
        plain = (str, int, float, bool, type(None), Path)
        settings = sorted((k, v) for k, v in vars(engine).items() if isinstance(v, plain))
        return (type(engine).__name__, str(engine.model.path), tuple(settings))  # type: ignore[attr-defined]

    def wrap(self, build: Callable[..., object]) -> Callable[..., object]:
        def cached(*args: object, **kwargs: object) -> object:
            engine = build(*args, **kwargs)  # resolves and verifies the model: its errors stay per call
            key = self.key(engine)
            if key is None:
                return engine
            if key not in self.engines:
                if hasattr(engine, "close"):
                    # Each command closes its assistant; the model stays loaded for the next one.
                    engine.close = lambda: None  # type: ignore[attr-defined]
                self.engines[key] = engine
            return self.engines[key]

        return cached

    def forget(self, kind: str) -> None:
        """Close and drop the engines of one class (PiperTTS): the next command loads its model anew."""
        for key in [k for k in self.engines if k[0] == kind]:
            self._close(self.engines.pop(key))

    def close(self) -> None:
        for engine in self.engines.values():
            self._close(engine)
        self.engines.clear()

    @staticmethod
    def _close(engine: object) -> None:
        close = getattr(type(engine), "close", None)  # the class's: the instance's was made a no-op
        if close is not None:
            close(engine)


@contextlib.contextmanager
def _stdio(stdin: str) -> Iterator[list[str]]:
    """stdin from a file holding `stdin`; fd 1 and 2 (and sys.stdout, sys.stderr) into files, whose text
    is in the list yielded once the block has ended: [stdout, stderr]."""
    with contextlib.ExitStack() as files:
        inp, out, err = (files.enter_context(tempfile.TemporaryFile()) for _ in range(3))
        inp.write(stdin.encode("utf-8", "surrogateescape"))
        inp.seek(0)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved_fds = [os.dup(1), os.dup(2)]
        saved = sys.stdin, sys.stdout, sys.stderr
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        # Closed with the block (the descriptors stay open: closefd=False).
        sys.stdin = files.enter_context(open(inp.fileno(), encoding="utf-8", closefd=False))
        sys.stdout = files.enter_context(open(1, "w", encoding="utf-8", closefd=False))
        sys.stderr = files.enter_context(
            open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)
        )
        captured: list[str] = []
        try:
            yield captured
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            sys.stdin, sys.stdout, sys.stderr = saved
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            for fd in saved_fds:
                os.close(fd)
            for f in (out, err):
                f.seek(0)
                captured.append(f.read().decode("utf-8", "replace"))


@contextlib.contextmanager
def _as_a_new_process(args: list[str], cwd: Path) -> Iterator[None]:
    """The state a fresh `python -m assistant` starts with, put back as it was afterwards."""
    from assistant import interrupt
    from assistant.cli import oneshot

    oneshot._NOTED.clear()  # "said once per run"
    interrupt.STOP.clear()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers, root.level = [], logging.WARNING  # no handler: library warnings reach stderr as they would
    handlers_before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    argv, here = sys.argv, os.getcwd()
    sys.argv = ["sori", *args]
    os.chdir(cwd)
    try:
        with warnings.catch_warnings():
            warnings.filters[:] = DEFAULT_WARNING_FILTERS
            warnings._filters_mutated()  # type: ignore[attr-defined]  # warnings seen before show again
            yield
    finally:
        os.chdir(here)
        sys.argv = argv
        for sig, handler in handlers_before.items():
            signal.signal(sig, handler)
        root.handlers, root.level = handlers, level
        interrupt.STOP.clear()


def _exit_status(main: Callable[[list[str]], int], args: list[str]) -> int:
    """What the process would exit with: main's return, SystemExit's code, 1 and a traceback on a crash."""
    try:
        return main(args)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # main handles its own; this one is the person running the tests
        raise
    except BaseException:
        traceback.print_exc()
        return 1


def run(
    args: list[str], *, stdin: str, cwd: Path, cache: EngineCache, timeout: float
) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `sori ARGS`; threads the command left running must end within
    `timeout`, as the interpreter would wait for them before the process exits."""
    from assistant import engines
    from assistant.cli.main import main

    before = set(threading.enumerate())
    builders = {name: getattr(engines, name) for name in ("build_stt", "build_llm", "build_tts")}
    with _as_a_new_process(args, cwd), _stdio(stdin) as captured:
        for name, build in builders.items():
            setattr(engines, name, cache.wrap(build))
        try:
            status = _exit_status(main, args)
        finally:
            for name, build in builders.items():
                setattr(engines, name, build)
    left = [t for t in threading.enumerate() if t not in before and not t.daemon]
    for thread in left:
        thread.join(timeout)
    hung = [t.name for t in left if t.is_alive()]
    if hung:
        raise AssertionError(f"sori {' '.join(args)}: threads still running at exit: {hung}")
    return status, captured[0], captured[1]
