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
    "onnxruntime",
    "pydantic",
    "platformdirs",
    "sounddevice",
    "numpy",
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
            out.append(
                Check(
                    f"model {role}",
                    False,
                    str(exc).split("; fix:")[0],
                    f"sori --profile {settings.profile} models install",
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
