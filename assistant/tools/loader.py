"""ToolRegistry: the tools from plugin folders, files and installed packages, reloaded when files change."""

from __future__ import annotations

import difflib
import importlib.metadata
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import LoadError, ToolNotFound
from .importer import Loaded, file_signature, load_entry_point, load_file, module_name, permission_problem
from .probe import Probe
from .spec import ToolSpec

ENTRY_POINT_GROUP = "sori.plugins"
BUILTIN_DIR = Path(__file__).with_name("builtin")


@dataclass(frozen=True)
class _Candidate:
    path: Path
    trusted: bool  # built-in files skip the permission check: they are part of the installed package


class ToolRegistry:
    """All tools by name, with the load errors; safe to read from any thread while it reloads."""

    def __init__(
        self,
        dirs: list[Path],
        files: list[Path] | None = None,
        entry_points: bool = True,
        builtin_dir: Path | None = None,
        load_timeout_s: float | None = None,
    ) -> None:
        self.dirs = [Path(d).expanduser() for d in dirs]
        self.files = [Path(f).expanduser() for f in (files or [])]
        self.entry_points = entry_points
        self.builtin_dir = builtin_dir
        self.load_timeout_s = load_timeout_s  # None: the importer's default
        self._lock = threading.Lock()  # guards the published snapshot below
        self._load_lock = threading.RLock()  # one (re)load at a time: load() and the watcher
        self._loaded: dict[Path, Loaded] = {}  # plugin files, in load order
        self._from_packages: list[Loaded] = []  # entry points: imported once per load(), not watched
        self._folder_errors: list[LoadError] = []
        self._tools: dict[str, ToolSpec] = {}
        self._sources: dict[str, Path] = {}
        self._errors: list[LoadError] = []
        self._ever_loaded = False
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self._probe = Probe()  # imports the user's files first where a hung one can be stopped
        self._keep_probe = False  # while watching: an edited file is checked without a start-up

    # -- reading ------------------------------------------------------------------------------------

    @property
    def tools(self) -> dict[str, ToolSpec]:
        """A snapshot: name -> ToolSpec, in load order."""
        with self._lock:
            return dict(self._tools)

    @property
    def errors(self) -> list[LoadError]:
        """A snapshot of the files (and folders) that could not be loaded, and why."""
        with self._lock:
            return list(self._errors)

    def sources(self) -> dict[str, Path]:
        """Tool name -> the file (or entry point module) it came from."""
        with self._lock:
            return dict(self._sources)

    def schemas(self) -> list[dict]:
        """Every tool in OpenAI's function-calling format."""
        return [spec.openai_schema() for spec in self.tools.values()]

    def get(self, name: str) -> ToolSpec:
        """The tool called name; ToolNotFound (a KeyError) lists what there is instead."""
        tools = self.tools
        if name in tools:
            return tools[name]
        close = difflib.get_close_matches(str(name), list(tools), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(sorted(tools)[:20]) or "none (no plugins are loaded)"
        raise ToolNotFound(f"no tool named {name!r}{hint} (available: {known})")

    # -- loading ------------------------------------------------------------------------------------

    def load(self) -> None:
        """Rescan everything from scratch: every file is executed again, entry points looked up again."""
        with self._load_lock:
            candidates, folder_errors = self._discover()
            if any(not c.trusted for c in candidates):
                self._probe.start()  # its start-up overlaps loading the built-ins
            try:
                self._loaded = {c.path: self._load(c) for c in candidates}
            finally:
                if not self._keep_probe:
                    self._probe.close()
            self._from_packages = (
                [load_entry_point(ep) for ep in _entry_points()] if self.entry_points else []
            )
            self._folder_errors = folder_errors
            self._ever_loaded = True
            self._publish()

    def _load(self, cand: _Candidate) -> Loaded:
        # Built-in files are part of Sori; the user's files go through the checking process first.
        probe = None if cand.trusted else self._probe
        timeout = self.load_timeout_s
        return load_file(cand.path, check_permissions=not cand.trusted, probe=probe, timeout=timeout)

    @property
    def watching(self) -> bool:
        return self._watcher is not None and self._watcher.is_alive()

    def _discover(self) -> tuple[list[_Candidate], list[LoadError]]:
        """The plugin files to load, in order (built-ins, folders, given files), and refused folders."""
        found: list[_Candidate] = []
        errors: list[LoadError] = []
        seen: set[Path] = set()

        def add(path: Path, trusted: bool) -> None:
            path = path.resolve()
            if path not in seen:
                seen.add(path)
                found.append(_Candidate(path, trusted))

        folders = [(self.builtin_dir, True)] if self.builtin_dir else []
        folders += [(d, False) for d in self.dirs]
        for folder, trusted in folders:
            if not folder.exists():
                continue  # the default plugins folder need not exist; `sori plugins list` shows which do
            if not folder.is_dir():
                errors.append(LoadError(folder, None, "not a folder; plugin folders hold .py files"))
                continue
            if not trusted and (problem := permission_problem(folder)):
                errors.append(LoadError(folder, None, problem))
                continue
            for path in sorted(folder.glob("*.py")):
                if not path.name.startswith("_") and path.is_file():
                    add(path, trusted)
        for path in self.files:
            add(path, False)
        return found, errors

    def _publish(self) -> None:
        """Rebuild the name table from the per-file results; a clashing later file is rejected whole."""
        tools: dict[str, ToolSpec] = {}
        sources: dict[str, Path] = {}
        errors = list(self._folder_errors)
        for result in [*self._loaded.values(), *self._from_packages]:
            if result.error is not None:
                errors.append(result.error)
                continue
            clash = next((s for s in result.specs if s.name in tools), None)
            if clash is not None:
                first = sources[clash.name]
                line = clash.source_line if clash.source_file == result.file else None
                errors.append(
                    LoadError(
                        result.file,
                        line,
                        f"tool name {clash.name!r} is already used by {first}; rename one of them",
                    )
                )
                continue
            for spec in result.specs:
                tools[spec.name] = spec
                sources[spec.name] = result.file
        with self._lock:
            self._tools, self._sources, self._errors = tools, sources, errors

    # -- watching -----------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Reload the files that were added, changed or deleted since they were read; True if any were."""
        with self._load_lock:
            if not self._ever_loaded:
                self.load()
                return True
            candidates, folder_errors = self._discover()
            changed = folder_errors != self._folder_errors
            loaded: dict[Path, Loaded] = {}
            try:
                for cand in candidates:
                    old = self._loaded.get(cand.path)
                    # A missing file (signature None) stays missing quietly, not "changing" every poll.
                    if old is not None and old.signature == file_signature(cand.path):
                        loaded[cand.path] = old
                    else:
                        loaded[cand.path] = self._load(cand)
                        changed = True
            finally:
                if not self._keep_probe:
                    self._probe.close()
            for gone in set(self._loaded) - set(loaded):
                sys.modules.pop(module_name(gone), None)  # a deleted plugin's module should not linger
                changed = True
            if changed:
                self._loaded, self._folder_errors = loaded, folder_errors
                self._publish()
            return changed

    def start_watching(self, interval: float = 0.5, on_change: Callable[[], None] | None = None) -> None:
        """Poll the plugin files every `interval` seconds in a daemon thread; reload what changed."""
        if self.watching:
            return
        with self._load_lock:
            self._keep_probe = True
            if not self._ever_loaded:
                self.load()
            if self.files or any(d.is_dir() for d in self.dirs):
                self._probe.start()  # a file added or edited later is checked at once (~0.3 s start-up)
        self._stop.clear()

        def watch() -> None:
            while not self._stop.wait(interval):
                try:
                    if self.refresh() and on_change is not None:
                        on_change()
                except Exception as exc:  # the watcher must outlive a bad callback or a vanished folder
                    warnings.warn(f"plugin watcher: {type(exc).__name__}: {exc}", stacklevel=1)

        self._watcher = threading.Thread(target=watch, name="sori-plugin-watcher", daemon=True)
        self._watcher.start()

    def stop_watching(self) -> None:
        """Stop the watcher thread (waits for the current poll to finish)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=15)
            self._watcher = None
        with self._load_lock:
            self._keep_probe = False
            self._probe.close()


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    try:
        return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:  # a broken distribution's metadata must not stop the other plugins
        return []
