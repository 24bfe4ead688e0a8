"""Errors of the plugin framework: bad plugins, bad tool arguments, unknown tools, load problems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.errors import SoriError


class PluginError(SoriError):
    """A plugin (or a `@tool` function) cannot be used as written; the message says how to fix it."""


class NobodyToAsk(Exception):
    """Raised by a confirm callback when there is no one to ask (no terminal, no window)."""


class ToolArgumentError(ValueError):
    """Arguments for a tool do not match its signature; the message names the bad argument."""


class ToolNotFound(SoriError, KeyError):
    """No tool has the requested name (a KeyError, so `except KeyError` still catches it)."""

    def __str__(self) -> str:
        # KeyError's own __str__ would wrap the sentence in quotes.
        return str(self.args[0]) if self.args else "tool not found"


@dataclass(frozen=True)
class LoadError:
    """One plugin file (or folder, or entry point) that could not be loaded, and why."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.message}"
