"""Shared fixtures: isolated user dirs, the real small-profile models, the shared audio, a CLI runner."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SORI_SHARED_DIR", REPO.parent / "shared"))
# The models `make test` installed (the user data dir unless SORI_MODELS_DIR says otherwise).
from assistant import paths  # noqa: E402

MODELS_DIR = paths.models_dir()

# Answers must be repeatable in tests: greedy decoding, fixed seed.
TEST_CONFIG = """profile = "small"
[llm]
temperature = 0.0
seed = 7
max_tokens = 96
"""


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "audio" / "jfk.flac").is_file():
        pytest.fail(f"test audio not found in {SHARED}; set SORI_SHARED_DIR to the shared/ folder")
    return SHARED


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


@pytest.fixture
def sori(config_file: Path):
    """Run the real `sori` command (python -m assistant) with the test config; returns a Result."""

    def run(*args: str, input: str | None = None, timeout: float = 300) -> Result:
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
        {"profile": "small", "llm": {"temperature": 0.0, "seed": 7, "max_tokens": 96}}
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
