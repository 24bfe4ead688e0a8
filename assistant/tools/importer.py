"""Loading one plugin file (fresh, on its own) or one entry point, and the permission check."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.util
import linecache
import os
import shlex
import sys
import threading
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LoadError, PluginError
from .probe import Probe, Unchecked
from .spec import ToolSpec

IMPORT_TIMEOUT_S = 10.0  # a plugin that hangs while loading must not hang Sori


@dataclass
class Loaded:
    """What one source (a file or an entry point) gave: its tools, or the error that disabled it."""

    file: Path
    signature: tuple[int, ...] | None = None  # the file's stat when it was read; None for entry points
    specs: list[ToolSpec] = field(default_factory=list)
    error: LoadError | None = None


def file_signature(path: Path) -> tuple[int, ...] | None:
    """What the watcher compares: mtime, size, inode, and mode/owner (so a chmod fix is noticed too)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode, st.st_uid)


def permission_problem(path: Path) -> str | None:
    """Why path must not be trusted as plugin code (anyone else could change it), or None if it is fine."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    quoted = shlex.quote(str(path))
    if st.st_mode & 0o022:
        return f"refused: writable by other users; fix: chmod go-w {quoted}"
    getuid = getattr(os, "getuid", None)  # not on Windows, where this check does not apply
    if getuid is not None and st.st_uid not in (getuid(), 0):
        return f"refused: owned by another user (uid {st.st_uid}); fix: chown {getuid()} {quoted}"
    return None


def module_name(path: Path) -> str:
    """A module name unique to this file, so two plugins called dice.py never share a module."""
    return "sori_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:16]


def collect(module: types.ModuleType | Any) -> list[ToolSpec]:
    """The tools found in a module's namespace (each once), or the tool itself for a decorated function."""
    objects = vars(module).values() if isinstance(module, types.ModuleType) else [module]
    found: list[ToolSpec] = []
    for obj in objects:
        try:
            spec = getattr(obj, "__sori_tool__", None)
        except Exception:  # an odd object whose __getattr__ raises
            continue
        if isinstance(spec, ToolSpec) and all(spec is not s for s in found):
            found.append(spec)
    return found


def _error_line(exc: BaseException, path: Path) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    return frames[-1].lineno if frames else None


def describe(exc: BaseException, path: Path) -> str:
    """One line saying why importing path failed."""
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        return f"{type(exc).__name__}: {exc.msg}"
    if isinstance(exc, PluginError):
        return str(exc)
    text = " ".join(str(exc).split()) or "(no message)"
    message = f"{type(exc).__name__} while loading: {text}"
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        message += f"; fix: {shlex.quote(sys.executable)} -m pip install {exc.name.split('.')[0]}"
    return message


def _exec_source(path: Path, name: str) -> types.ModuleType:
    # Compiled from the text on disk each time: no stale __pycache__ when an edit keeps size and mtime second.
    source = importlib.util.decode_source(path.read_bytes())
    code = compile(source, str(path), "exec", dont_inherit=True)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise ImportError(f"cannot make a module of {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic and dataclasses in the plugin look their module up here
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _run_with_timeout(path: Path, name: str, timeout: float) -> types.ModuleType:
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["module"] = _exec_source(path, name)
        except BaseException as exc:  # SystemExit from a plugin must not end Sori
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"sori-load-{path.name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        # It passed the checking process, so this is rare (a hang that depends on the moment): stop a
        # Python loop as well as Python can, by raising SystemExit inside it.
        if worker.ident is not None:
            raise_in = ctypes.pythonapi.PyThreadState_SetAsyncExc
            raise_in(ctypes.c_ulong(worker.ident), ctypes.py_object(SystemExit))
        raise TimeoutError(f"did not finish loading within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["module"]


def try_import(path: Path) -> dict[str, Any]:
    """Import path once, here and now (in the checking process): {"ok": True}, or the line and message."""
    name = module_name(path)
    try:
        _exec_source(path, name)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt: all are the file's failure
        return {"ok": False, "line": _error_line(exc, path), "message": describe(exc, path)}
    finally:
        sys.modules.pop(name, None)
    return {"ok": True}


def load_file(
    path: Path, *, check_permissions: bool, probe: Probe | None = None, timeout: float | None = None
) -> Loaded:
    """Load one plugin file fresh; any failure disables just this file and is recorded.

    With a probe, the file is imported in the checking process first, and here only if it did so in time
    (`timeout` seconds, IMPORT_TIMEOUT_S by default).
    """
    timeout = IMPORT_TIMEOUT_S if timeout is None else timeout
    result = Loaded(file=path, signature=file_signature(path))
    if result.signature is None:
        result.error = LoadError(path, None, "file not found")
        return result
    if check_permissions and (problem := permission_problem(path)):
        result.error = LoadError(path, None, problem)
        return result
    if probe is not None:
        with contextlib.suppress(Unchecked):  # no checking process: import here, as before
            result.error = probe.check(path, timeout)
        if result.error is not None:
            return result
    name = module_name(path)
    sys.modules.pop(name, None)
    linecache.checkcache(str(path))  # tracebacks must show the current text, not an earlier version
    try:
        module = _run_with_timeout(path, name, timeout)
    except TimeoutError as exc:
        result.error = LoadError(path, None, str(exc))
        return result
    except (Exception, SystemExit) as exc:
        result.error = LoadError(path, _error_line(exc, path), describe(exc, path))
        return result
    result.specs = collect(module)
    seen: dict[str, ToolSpec] = {}
    for spec in result.specs:
        if spec.name in seen:
            result.error = LoadError(
                path,
                spec.source_line,
                f"two tools are named {spec.name!r} (lines {seen[spec.name].source_line} and "
                f"{spec.source_line}); rename one",
            )
            result.specs = []
            break
        seen[spec.name] = spec
    return result


def load_entry_point(ep: Any) -> Loaded:
    """Load one `sori.plugins` entry point (a module or a decorated function) the normal import way."""
    module_part = str(ep.value).split(":", 1)[0].strip()
    try:
        found = importlib.util.find_spec(module_part)
        origin = Path(found.origin) if found and found.origin else None
    except Exception:
        origin = None
    label = origin or Path(f"<entry point {ep.name} = {ep.value}>")
    try:
        obj = ep.load()
    except (Exception, SystemExit) as exc:
        line = _error_line(exc, origin) if origin else None
        return Loaded(
            file=label, error=LoadError(label, line, f"entry point {ep.name}: {describe(exc, label)}")
        )
    return Loaded(file=label, specs=collect(obj))
