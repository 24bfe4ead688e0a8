"""Models shipped inside the desktop bundle: found after the user's own, read-only, not re-hashed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assistant import models, paths
from tests.conftest import MODELS_DIR

VOICE = "hibari-heart"  # the small profile's voice, the smallest installed model (~8 MB)


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty user models dir, and a bundled one holding a copy of the installed voice (with stamps)."""
    if not (MODELS_DIR / VOICE).is_dir():
        pytest.fail(f"{VOICE} is not installed in {MODELS_DIR}; run: make setup-test")
    user, bundled = tmp_path / "user", tmp_path / "bundled"
    user.mkdir()
    shutil.copytree(MODELS_DIR / VOICE, bundled / VOICE)  # copy2 keeps mtimes, so the stamps match
    monkeypatch.setenv("SORI_MODELS_DIR", str(user))
    monkeypatch.setenv("SORI_BUNDLED_MODELS_DIR", str(bundled))
    return user, bundled


def test_not_frozen_means_no_bundled_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SORI_BUNDLED_MODELS_DIR", raising=False)
    assert paths.bundled_models_dir() is None


def test_bundled_model_is_found_when_the_user_has_none(dirs: tuple[Path, Path]) -> None:
    user, bundled = dirs
    resolved = models.resolve("tts", "", "small")
    assert resolved.path.parent == bundled / VOICE
    assert models.is_installed(VOICE)
    # Installing finds it already there and writes nothing to the user dir.
    report = models.install(VOICE)
    assert report.assembled == [] and not (user / VOICE).exists()


def test_the_users_copy_wins(dirs: tuple[Path, Path]) -> None:
    user, _ = dirs
    (user / VOICE).symlink_to(MODELS_DIR / VOICE, target_is_directory=True)
    assert models.resolve("tts", "", "small").path.parent == user / VOICE


def test_read_only_bundle_without_stamps_still_verifies(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bundled = dirs
    folder = bundled / VOICE
    for stamp in folder.glob("*.verified"):
        stamp.unlink()
    folder.chmod(0o555)
    real_write = Path.write_text

    def refuse(self: Path, *args, **kwargs):  # root ignores chmod: refuse as a read-only mount would
        if self.is_relative_to(bundled):
            raise PermissionError(13, "Read-only file system", str(self))
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", refuse)
    try:
        assert models.resolve("tts", "", "small").path.parent == folder
        assert not list(folder.glob("*.verified"))
    finally:
        folder.chmod(0o755)


def test_bundled_stamp_survives_a_rounded_mtime(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bundled = dirs
    for f in models.manifest(VOICE).files:
        target = bundled / VOICE / f.name
        whole_seconds = target.stat().st_mtime_ns // 1_000_000_000 * 1_000_000_000 + 1
        os.utime(target, ns=(whole_seconds, whole_seconds))  # as an archive tool may leave it

    def no_hashing(*args, **kwargs):
        raise AssertionError("a bundled model with its stamp must not be re-hashed")

    monkeypatch.setattr(models, "_sha256", no_hashing)
    assert models.resolve("tts", "", "small").path.parent == bundled / VOICE


def test_models_list_marks_bundled_models(
    dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.cli import main

    _, bundled = dirs
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(VOICE))
    assert row.split()[4] == "bundled"  # id, role, size, "MB", installed
    assert f"bundled models (read-only): {bundled}" in out
