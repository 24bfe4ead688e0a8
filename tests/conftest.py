"""Shared fixtures: isolated user dirs, the real small-profile models, the shared audio, a CLI runner.

A test that loads the real models or runs the real `sori` is marked `slow`, by the fixtures it uses
(REAL_FIXTURES) or by a `slow` mark of its own; `make test-fast` runs the others (`-m "not slow"`), and
they may not load a real model or start `sori` (checked while they run).
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import inprocess

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SORI_SHARED_DIR", REPO.parent / "shared"))
# The models `make test` installed (the user data dir unless SORI_MODELS_DIR says otherwise).
from assistant import paths  # noqa: E402

MODELS_DIR = paths.models_dir()

# Answers must be repeatable in tests: greedy decoding, fixed seed. `make test` runs several test processes
# on a few cores: one thread each for the chat model and for Whisper (CTranslate2 reads OMP_NUM_THREADS).
# llama.cpp's threads wait for each other at every step, so two of them sharing a busy core with others
# made answers 10 to 30 times slower.
TEST_CONFIG = """profile = "small"
[llm]
temperature = 0.0
seed = 7
n_threads = 1
max_tokens = 96
"""
os.environ.setdefault("OMP_NUM_THREADS", "1")


def builtin_registry():
    """Sori's built-in tools, loaded as user plugins are (no plugin folders, no entry points)."""
    from assistant.tools import ToolRegistry
    from assistant.tools.loader import BUILTIN_DIR

    registry = ToolRegistry(dirs=[], builtin_dir=BUILTIN_DIR, entry_points=False)
    registry.load()
    return registry


def call(executor, name: str, **arguments):
    """Run a tool that must succeed; its JSON result, decoded."""
    import json

    result = executor.call(name, arguments)
    assert result.ok, result.error
    return json.loads(result.content)


def fails(executor, name: str, **arguments) -> str:
    """Run a tool that must fail cleanly; its error message."""
    result = executor.call(name, arguments)
    assert not result.ok, result.content
    assert result.error
    return result.error


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "audio" / "jfk.flac").is_file():
        pytest.fail(f"test audio not found in {SHARED}; set SORI_SHARED_DIR to the shared/ folder")
    return SHARED


# Fixtures that load the small profile's real models or run the real `sori`: a test using one, directly or
# through another fixture, is slow.
REAL_FIXTURES = {"sori", "sori_process", "engines", "small_settings"}
# The engines that load a model file; a fast test uses scripted ones (tests/fakes.py).
REAL_ENGINES = {
    "assistant.stt.whisper": "WhisperSTT",
    "assistant.llm.llamacpp": "LlamaCppChat",
    "assistant.tts.hibari": "HibariTTS",
    "assistant.tts.piper": "PiperTTS",
    "assistant.tts.sherpa": "SherpaTTS",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_first)


def _first(item: pytest.Item) -> int:
    """xdist hands each worker a contiguous share of the collection, first one first: the tests that wait
    on the real clock go at the start of the first worker's share, so the others keep the cores busy
    meanwhile instead of all waiting at the end of the run."""
    if item.get_closest_marker("alone") is not None:
        return 0
    return 1 if item.get_closest_marker("realtime") is not None else 2


def pytest_collection_finish(session: pytest.Session) -> None:
    # faster-whisper runs a full garbage collection after every file it decodes: over every module and
    # collected test that took about 0.1 s a file, 11 s of CPU in `make test-fast` (3 s with them frozen).
    gc.freeze()


@contextlib.contextmanager
def _turn(item: pytest.Item, alone: bool):
    """Under xdist (`make test`), a test marked `alone` runs while no other test does: it waits for those
    running to end, and none starts until it has (lock files shared by this run's workers)."""
    uid = getattr(item.config, "workerinput", {}).get("testrunuid")
    if uid is None:
        yield
        return
    import fcntl
    import tempfile

    base = Path(tempfile.gettempdir()) / f"sori-tests-{uid}"
    with open(f"{base}.gate", "a") as gate, open(f"{base}.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)  # held by an `alone` test while it waits and runs
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Every other test holds its turn from set-up to tear-down."""
    if item.get_closest_marker("alone") is not None:
        yield
        return
    with _turn(item, alone=False):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """An `alone` test has only its call alone: its fixtures (models loaded, prompts readied) are set up
    while the others run."""
    if item.get_closest_marker("alone") is None:
        yield
        return
    with _turn(item, alone=True):
        yield


def _starts_sori(args: object) -> bool:
    argv = [str(a) for a in args] if isinstance(args, list | tuple) else str(args).split()
    module = any(a == "-m" and b == "assistant" for a, b in zip(argv, argv[1:], strict=False))
    return module or (bool(argv) and Path(argv[0]).name == "sori")


@pytest.fixture(autouse=True)
def _fast_tests_stay_fast(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """A test not marked slow fails if it loads a real model or starts `sori`: it belongs in `make test`."""
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    import importlib

    found: list[str] = []

    def refuse(what: str):
        found.append(what)
        raise RuntimeError(f"{what} in a test not marked slow")

    for module, name in REAL_ENGINES.items():
        cls = getattr(importlib.import_module(module), name)
        monkeypatch.setattr(cls, "_load_locked", lambda self, _n=name: refuse(f"{_n} loads a real model"))

    class Popen(subprocess.Popen):
        def __init__(self, args, *rest, **kwargs) -> None:
            if _starts_sori(args):
                refuse("the real `sori` is started")
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Popen)
    yield
    if found:
        pytest.fail(
            f"{found[0]}: take a real-model fixture (engines, sori, small_settings) or mark the test "
            "@pytest.mark.slow; fast tests use tests/fakes.py",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Conversations and config go to tmp_path; the installed models are shared read-only."""
    monkeypatch.setenv("SORI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SORI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SORI_MODELS_DIR", str(MODELS_DIR))
    monkeypatch.delenv("SORI_CONFIG", raising=False)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEST_CONFIG)
    return path


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _run_process(args: tuple[str, ...], input: str | None, timeout: float) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=os.environ.copy(),
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def sori_process(config_file: Path):
    """Run the real `sori` command (python -m assistant) in a process of its own; returns a Result.

    For what only a process shows: signals, its exit at a crash, its environment, a cold start."""

    def run(*args: str, input: str | None = None, timeout: float = 300) -> Result:
        return _run_process(args, input, timeout)

    return run


# Benchmarks measure a cold start beside the bare library's: a process each, as a user runs them.
IN_A_PROCESS = {"bench"}


@pytest.fixture(scope="session")
def _engine_cache():
    cache = inprocess.EngineCache()
    yield cache
    cache.close()


@pytest.fixture
def sori(config_file: Path, _engine_cache: inprocess.EngineCache):
    """Run the real `sori` command with the test config; returns a Result (exit status, stdout, stderr).

    It runs in this process (tests/inprocess.py: the same parsing, engines and output, stdin empty unless
    given), each model loaded once per test process; benchmarks run in a process of their own."""

    def run(*args: str, input: str | None = None, timeout: float = 300) -> Result:
        if IN_A_PROCESS & set(args):
            return _run_process(args, input, timeout)
        status, out, err = inprocess.run(
            list(args), stdin=input or "", cwd=REPO, cache=_engine_cache, timeout=timeout
        )
        return Result(status, out, err)

    return run


def assert_clean_error(result: Result, *needles: str) -> None:
    """A user-facing failure: non-zero exit, one line on stderr, no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sori: error: "), lines[0]
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


@pytest.fixture(scope="session")
def small_settings():
    from assistant.config import Settings

    return Settings.model_validate(
        {"profile": "small", "llm": {"temperature": 0.0, "seed": 7, "n_threads": 1, "max_tokens": 96}}
    )


@pytest.fixture(scope="session")
def engines(small_settings):
    """The small profile's real engines, loaded once for the in-process tests."""
    from assistant.core import Assistant

    a = Assistant(small_settings)
    return a.stt, a.llm, a.tts


@pytest.fixture
def assistant(small_settings, engines, tmp_path):
    """An assistant on the shared loaded engines, with its own store."""
    from assistant.core import Assistant
    from assistant.store import ConversationStore

    a = Assistant(small_settings, store=ConversationStore(tmp_path / "c.sqlite3"))
    a._stt, a._llm, a._tts = engines
    return a


def norm(text: str) -> str:
    """Lower-case words only, for comparing what was said with what was heard."""
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())
