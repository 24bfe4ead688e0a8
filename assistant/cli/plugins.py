"""`sori plugins list|check FILE|new NAME`: see the tools, check one plugin file, start a new one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant import paths
from assistant.config import Settings
from assistant.errors import InputError
from assistant.tools.loader import BUILTIN_DIR, ToolRegistry
from assistant.tools.router import ToolRouter
from assistant.tools.template import new_plugin


def plugin_folders(settings: Settings) -> list[Path]:
    """The user's plugin folders: the default one, then the configured ones (with --plugins-dir)."""
    folders: list[Path] = []
    for folder in [paths.plugins_dir(), *settings.plugins.dirs]:
        if folder not in folders:
            folders.append(folder)
    return folders


def run_plugins(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `sori plugins` action; returns the exit code."""
    action = args.plugins_command
    if action == "new":
        path = new_plugin(args.name, paths.plugins_dir())
        print(path)
        print(f"edit it, then check it with: sori plugins check {path}", file=sys.stderr)
        return 0
    if action == "check":
        return _check(Path(args.file), getattr(args, "say", None) or [])
    if action == "list":
        return _list(settings)
    raise InputError(f"unknown plugins action {action!r}; use list, check FILE or new NAME")


def load_errors_line(registry: ToolRegistry) -> str | None:
    """One line for the chat and `ask` when plugin files failed to load (the details: sori plugins list)."""
    count = len(registry.errors)
    if not count:
        return None
    return f"{count} plugin file{'s' if count != 1 else ''} failed to load: sori plugins list"


def _check(file: Path, requests: list[str]) -> int:
    if file.is_dir():
        raise InputError(f"{file}: is a folder; give one plugin .py file")
    if file.exists() and not file.is_file():
        raise InputError(f"{file}: is not a regular file; give one plugin .py file")
    if not file.is_file():
        raise InputError(f"{file}: file not found")
    registry = ToolRegistry(dirs=[], files=[file], entry_points=False)
    registry.load()
    if registry.errors:
        for error in registry.errors:
            print(error, file=sys.stderr)
        return 1
    if not registry.tools:
        print(
            f"{file}: no tools found; mark a function with @tool (see: sori plugins new NAME)",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(registry.schemas(), indent=2, ensure_ascii=False))
    if requests:
        _route(registry, requests)
    return 0


def _route(registry: ToolRegistry, requests: list[str]) -> None:
    """How each request would be routed among this file's tools and the built-in ones (on stderr)."""
    tools = dict(registry.tools)
    if BUILTIN_DIR.is_dir():
        builtins = ToolRegistry([], builtin_dir=BUILTIN_DIR, entry_points=False)
        builtins.load()
        tools = {**builtins.tools, **tools}
    router = ToolRouter(tools.values())
    for text in requests:
        offered = ", ".join(router.select(text)) or "none (the model answers alone)"
        fast = router.confident(text)
        how = f"fast path runs {fast}" if fast else "no fast path (the model chooses)"
        for name in router.matched(text):
            if rival := router.rival(text, name):
                how += f"; {rival} fits the words better than the built-in {name}'s pattern"
        print(f"{text!r}: offered {offered}; {how}", file=sys.stderr)


def _list(settings: Settings) -> int:
    folders = plugin_folders(settings)
    registry = ToolRegistry(
        dirs=folders,
        builtin_dir=BUILTIN_DIR if BUILTIN_DIR.is_dir() else None,
        load_timeout_s=settings.plugins.load_timeout_s,
    )
    registry.load()
    tools, sources, errors = registry.tools, registry.sources(), registry.errors
    width = max((len(name) for name in tools), default=0)
    for name, spec in tools.items():
        about = spec.description or "(no description)"
        about = about if len(about) <= 60 else about[:57] + "..."
        print(f"{name:{width}}  {about:60}  {sources.get(name, '')}")
    for error in errors:
        print(error)
    missing = [str(f) for f in folders if not f.exists()]
    where = ", ".join(str(f) for f in folders)
    summary = f"{len(tools)} tool{'s' if len(tools) != 1 else ''}"
    if errors:
        summary += f", {len(errors)} load error{'s' if len(errors) != 1 else ''} (listed above)"
    summary += f"; plugin folders: {where}"
    if missing:
        summary += f" (not there yet: {', '.join(missing)})"
    if not tools:
        summary += "; create a plugin with: sori plugins new NAME"
    print(summary)
    return 0
