"""Where Sori keeps its files. Environment variables override each place (tests use them)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from platformdirs import PlatformDirs

_DIRS = PlatformDirs("sori", appauthor=False)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    return _env_path("SORI_CONFIG_DIR") or Path(_DIRS.user_config_dir)


def config_file() -> Path:
    return _env_path("SORI_CONFIG") or config_dir() / "config.toml"


def data_dir() -> Path:
    return _env_path("SORI_DATA_DIR") or Path(_DIRS.user_data_dir)


def models_dir() -> Path:
    return _env_path("SORI_MODELS_DIR") or data_dir() / "models"


def bundled_models_dir() -> Path | None:
    """The read-only models shipped inside a frozen (PyInstaller) app, searched after models_dir()."""
    env = _env_path("SORI_BUNDLED_MODELS_DIR")
    if env:
        return env
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "models"
    return None


def database_file() -> Path:
    return data_dir() / "conversations.sqlite3"


def plugins_dir() -> Path:
    return config_dir() / "plugins"
