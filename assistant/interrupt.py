"""Ctrl-C and SIGTERM for the one-shot commands: stop the work, wait for native code, then exit.

Python runs signal handlers on the main thread only, between bytecodes. When the main thread is inside a
native library that calls back into Python (llama.cpp's logging callback), a KeyboardInterrupt raised in
the callback is swallowed by ctypes; and a process that exits while a daemon thread is still inside
onnxruntime or CTranslate2 aborts ("terminate called without an active exception"). So the work runs on
a worker thread, the main thread only waits, and an interrupt sets a flag the work checks, then waits
for the worker to come back before the process exits.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

SIGTERM_EXIT = 143
STOP_WAIT_S = 30.0  # the longest an interrupted command waits for native work (one sentence, one token)


# Set when a one-shot command is interrupted: native work that can check it (llama.cpp's abort callback)
# stops at once instead of finishing a long step first.
STOP = threading.Event()


class Terminated(KeyboardInterrupt):
    """SIGTERM: handled like Ctrl-C (clean up, leave files as they were), but the process then ends."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def install_sigterm() -> object:
    """Make SIGTERM raise Terminated on the main thread, so `finally` blocks and cleanups run.

    Returns the previous handler for restore_sigterm (None when not on the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def restore_sigterm(previous: object) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]


def wait_quietly(done: threading.Event, timeout: float = STOP_WAIT_S) -> bool:
    """Wait for work that is stopping already, through further Ctrl-Cs; True when it finished.

    An Event, not Thread.join(): a join() cut short by KeyboardInterrupt can leave is_alive() False
    while the thread still runs (CPython 3.11).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if done.wait(0.05):
                return True
        except KeyboardInterrupt:
            continue
    return done.is_set()


def run_cancellable(work: Callable[[threading.Event], T], on_cancel: Callable[[], None] | None = None) -> T:
    """Run work(cancel) on a worker thread and return its result.

    Ctrl-C or SIGTERM sets `cancel` and calls on_cancel(); once the worker has returned (work must check
    the flag between steps), the KeyboardInterrupt (or Terminated) is raised again here.
    """
    cancel = threading.Event()
    done = threading.Event()
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = work(cancel)
        except BaseException as exc:  # re-raised on the main thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="sori-work", daemon=True).start()
    try:
        while not done.wait(0.05):
            pass
    except KeyboardInterrupt:
        cancel.set()
        STOP.set()
        if on_cancel is not None:
            on_cancel()
        wait_quietly(done)
        raise
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
