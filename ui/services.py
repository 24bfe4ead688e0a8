"""Blocking helpers the bridge runs on its store worker: devices, plugins, the config file. No Qt here.

(Sources and sinks come from the Session's audio factory, assistant/session_audio.py.)
"""

from __future__ import annotations

from pathlib import Path

from assistant import paths
from assistant.config import Settings, settings_to_toml
from assistant.core import Assistant
from assistant.errors import SoriError

# Settings the running engines were built from: changing them needs a restart.
RESTART_KEYS = (
    ("stt", "model"),
    ("stt", "device"),
    ("llm", "model"),
    ("llm", "n_gpu_layers"),
    ("llm", "server_url"),
    ("profile",),
)


def devices() -> tuple[list, str]:
    """The sound devices, or [] and why they cannot be listed."""
    from assistant.audio.devices import list_devices

    try:
        return list_devices(), ""
    except SoriError as exc:
        return [], str(exc)


def load_plugins(assistant: Assistant, *, reload: bool = False) -> tuple[list[tuple[str, str, str]], list]:
    """(name, description, source file) of every tool the assistant can call, and the LoadErrors."""
    from assistant.tools.errors import LoadError

    try:
        registry = assistant.tools  # the assistant's own registry, so a reload changes what it can call
        if reload:
            registry.load()
        sources = registry.sources()
        tools = [
            (name, spec.description or "", str(sources.get(name, "")))
            for name, spec in registry.tools.items()
        ]
        return tools, registry.errors
    except Exception as exc:  # the plugin framework must never stop the window
        return [], [
            LoadError(paths.plugins_dir(), None, f"plugins cannot be loaded ({type(exc).__name__}: {exc})")
        ]


def write_settings(settings: Settings) -> Path:
    """Write the whole settings to the config file; returns its path."""
    path = paths.config_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(settings_to_toml(settings), "utf-8")
        tmp.replace(path)  # atomic: a crash never leaves half a config file
    except OSError as exc:
        raise SoriError(f"cannot write the config file {path}: {exc.strerror or exc}") from exc
    return path


def needs_restart(old: Settings, new: Settings) -> bool:
    """True when a setting the loaded engines were built from changed."""

    def get(s: Settings, key: tuple[str, ...]) -> object:
        value: object = s
        for part in key:
            value = getattr(value, part)
        return value

    return any(get(old, key) != get(new, key) for key in RESTART_KEYS)


def apply_live(assistant: Assistant, settings: Settings, *, tts_loaded: bool) -> str | None:
    """Use what can change without a restart: voice timing, barge-in, speaking rate, devices, and the voice
    itself (from the next sentence on). Returns why the new voice could not be used, or None."""
    old = assistant.settings.tts
    assistant.settings = settings  # read at the start of each turn and each voice session
    new = settings.tts
    problem = None
    if tts_loaded and (new.voice, new.pocket_model) != (old.voice, old.pocket_model):
        try:
            assistant.set_voice(new.voice)  # loaded here, off the GUI thread; the old voice speaks meanwhile
        except SoriError as exc:
            problem = str(exc)
    if tts_loaded and hasattr(assistant.tts, "speaking_rate"):
        assistant.tts.speaking_rate = settings.tts.speaking_rate
    return problem
