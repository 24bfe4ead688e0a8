"""`sori doctor`: check what Sori needs, say how to fix each problem, exit non-zero if any."""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass

from assistant import models
from assistant.config import Settings
from assistant.errors import SoriError

PACKAGES = [
    "faster-whisper",
    "ctranslate2",
    "llama-cpp-python",
    "piper-tts",
    "hibari-tts",
    "sherpa-onnx",
    "onnxruntime",
    "pydantic",
    "platformdirs",
    "sounddevice",
    "numpy",
]


DATABASES = [
    ("conversations.sqlite3", "conversation database"),
    ("timers.sqlite3", "timers database"),
    ("notes.sqlite3", "notes database"),
    ("documents.sqlite3", "documents index"),
]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, platform.python_version(), "install Python 3.11 or newer")


def _packages() -> list[Check]:
    out = []
    for name in PACKAGES:
        try:
            out.append(Check(f"package {name}", True, md.version(name)))
        except md.PackageNotFoundError:
            out.append(Check(f"package {name}", False, "not installed", "pip install -e . (or make run)"))
    return out


def _models(settings: Settings) -> list[Check]:
    out = []
    values = {"stt": settings.stt.model, "llm": settings.llm.model, "tts": settings.tts.voice}
    for role, value in values.items():
        if role == "llm" and settings.llm.server_url:
            out.append(Check("model llm", True, f"server {settings.llm.server_url}"))
            continue
        try:
            resolved = models.resolve(role, value, settings.profile)  # type: ignore[arg-type]
            if resolved.manifest is not None:
                models.verify(resolved.manifest.id)  # full sha256, not just the stamp
            out.append(Check(f"model {role}", True, f"{resolved.name} ({resolved.path})"))
        except SoriError as exc:
            problem, _, fix = str(exc).partition("; fix: ")
            if "cannot be read" not in problem:  # a damaged or missing file: assemble it again
                fix = f"sori --profile {settings.profile} models install"
            out.append(Check(f"model {role}", False, problem, fix))
    return out


def _databases() -> list[Check]:
    """Sori's SQLite files: each one usable, or what is wrong with it and the fix (nothing is changed)."""
    from assistant import dbfile, paths

    out = []
    for name, what in DATABASES:
        path = paths.data_dir() / name
        found = dbfile.problem(path, what)
        if found is not None:
            out.append(Check(what, False, found[0], found[1]))
        else:
            out.append(Check(what, True, str(path) if path.exists() else f"{path} (created when first used)"))
    return out


def _voices(settings: Settings) -> list[Check]:
    """Every voice and whether it can speak now; only the chosen one is required (checked above)."""
    from assistant.tts.select import available_voices

    out = []
    for v in available_voices(settings):
        detail = f"{v.engine}, {v.detail}" if v.usable else f"{v.engine}, not usable"
        out.append(Check(f"voice {v.value}", v.usable, detail, v.detail, required=False))
    from assistant.tts.cloned import pocket_model_dir

    folder = pocket_model_dir(settings.tts.pocket_model)
    found = folder is not None and (folder / "vocab.json").is_file()
    out.append(
        Check(
            "Pocket TTS model (voice cloning)",
            found,
            str(folder) if found else "not installed",
            "see README, 'Cloned voices': download sherpa-onnx-pocket-tts-int8-2026-01-26 into "
            + str(models.paths.models_dir()),
            required=False,
        )
    )
    return out


def _audio() -> list[Check]:
    from assistant.audio.devices import list_devices

    try:
        devices = list_devices()
    except SoriError as exc:
        return [
            Check("audio", False, str(exc).split("; fix: ")[0], "sudo apt-get install libportaudio2", False)
        ]
    inputs = [d.name for d in devices if d.inputs > 0]
    outputs = [d.name for d in devices if d.outputs > 0]
    fix = "connect a microphone/speaker; Sori still works in text and with audio files"
    return [
        Check("audio input", bool(inputs), ", ".join(inputs[:3]) or "no input device", fix, required=False),
        Check(
            "audio output", bool(outputs), ", ".join(outputs[:3]) or "no output device", fix, required=False
        ),
    ]


def _gpu() -> list[Check]:
    out = []
    try:
        from assistant.llm.llamacpp import gpu_offload_supported

        offload = gpu_offload_supported()
        out.append(
            Check("llama.cpp GPU offload", True, "available" if offload else "CPU-only build", required=False)
        )
    except Exception as exc:
        out.append(
            Check("llama.cpp", False, f"cannot load: {exc}", "pip install --force-reinstall llama-cpp-python")
        )
    from assistant.stt.whisper import cuda_available

    out.append(
        Check(
            "whisper CUDA",
            True,
            "available" if cuda_available() else "not available (CPU int8)",
            required=False,
        )
    )
    return out


def _display() -> Check:
    shown = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY")
    return Check(
        "display", bool(shown), shown or "none (the terminal chat works without one)", required=False
    )


def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    groups: list[Callable[[], list[Check]]] = [
        lambda: [_python()],
        _packages,
        lambda: _models(settings),
        _databases,
        lambda: _voices(settings),
        _audio,
        _gpu,
        lambda: [_display()],
    ]
    failed = 0
    for group in groups:
        for check in group():
            mark = "ok  " if check.ok else ("FAIL" if check.required else "warn")
            line = f"[{mark}] {check.name}: {check.detail}"
            if not check.ok and check.fix:
                line += f"\n       fix: {check.fix}"
            print(line)
            failed += int(check.required and not check.ok)
    print("all required checks passed" if not failed else f"{failed} problem(s) found")
    return 1 if failed else 0
