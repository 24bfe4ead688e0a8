"""`sori desktop install|uninstall`: put Sori into (or take it out of) the Linux application menu.

The files follow the XDG specifications: a desktop entry, hicolor theme icons and AppStream metainfo, all
named after the app id, written under $XDG_DATA_HOME (~/.local/share). No caches are refreshed: menus
notice new desktop entries by themselves, and a cache file written here would outlive an uninstall.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from assistant.errors import SoriError

APP_ID = "io.github.sori.Sori"
ICON_SIZES = (16, 32, 48, 64, 128, 256)
# Characters that make an Exec argument need quotes (Desktop Entry spec, "The Exec key").
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")


def default_data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share (the spec says to ignore a relative value)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def source_dir() -> Path:
    """The shipped files: inside a PyInstaller bundle, the wheel (_desktop), or packaging/linux."""
    here = Path(__file__).resolve().parents[1]  # assistant/
    candidates = [here / "_desktop", here.parent / "packaging" / "linux"]
    if getattr(sys, "frozen", False):
        bundle = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
        candidates.insert(0, bundle / "assistant" / "_desktop")
    for candidate in candidates:
        if (candidate / f"{APP_ID}.desktop").is_file():
            return candidate
    raise SoriError("the desktop files are missing from this installation; fix: reinstall Sori")


def targets() -> dict[str, str]:
    """Each installed file (relative to the data home) and its source (relative to source_dir())."""
    out = {
        f"applications/{APP_ID}.desktop": f"{APP_ID}.desktop",
        f"icons/hicolor/scalable/apps/{APP_ID}.svg": f"{APP_ID}.svg",
        f"metainfo/{APP_ID}.metainfo.xml": f"{APP_ID}.metainfo.xml",
    }
    for n in ICON_SIZES:
        out[f"icons/hicolor/{n}x{n}/apps/{APP_ID}.png"] = f"icons/{n}x{n}/{APP_ID}.png"
    return out


def sori_command() -> list[str]:
    """The absolute command that starts this Sori, so the menu entry works without `sori` on PATH."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).absolute())]
    beside = Path(sys.executable).absolute().parent / "sori"  # the venv's script; no resolve(): keep the venv
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("sori")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "assistant"]


def exec_value(argv: list[str]) -> str:
    """argv as an Exec= value: quoted and escaped per the Desktop Entry spec."""
    parts = []
    for arg in argv:
        arg = arg.replace("%", "%%")  # a lone % would be read as a field code
        if not arg or any(c in _RESERVED for c in arg):
            arg = '"' + re.sub(r'(["`$\\])', r"\\\1", arg) + '"'
        parts.append(arg)
    # The key file's own string escapes come on top of the quoting rules.
    return " ".join(parts).replace("\\", "\\\\").replace("\n", "\\n")


def _write(target: Path, data: bytes) -> None:
    """Atomically: a menu or software centre reading the file never sees half of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; other users' menus may read it
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _unwritable(path: Path, exc: OSError, home: Path, verb: str = "write") -> SoriError:
    # mkdir's "File exists" would not say which file is in the way of a folder.
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        return SoriError(f"cannot {verb} {path}: {blocker} is a file, not a folder; fix: move it away")
    return SoriError(
        f"cannot {verb} {path}: {exc.strerror or exc}; "
        f"fix: make {home} writable, or set XDG_DATA_HOME to a folder you own"
    )


def _check_platform() -> None:
    if sys.platform in ("win32", "darwin"):
        raise SoriError("sori desktop adds Sori to a Linux (XDG) application menu; this system has none")


def install(data_home: Path | None = None) -> list[Path]:
    """Write the desktop entry, icons and metainfo; returns the files written."""
    _check_platform()
    home = data_home or default_data_home()
    source = source_dir()
    exec_line = f"Exec={exec_value(sori_command())}"
    written: list[Path] = []
    for rel, src in targets().items():
        target = home / rel
        data = (source / src).read_bytes()
        if rel.startswith("applications/"):
            # A function, not a template: backslashes in the path must not become regex escapes.
            text = re.sub(r"^Exec=.*$", lambda _m: exec_line, data.decode("utf-8"), count=1, flags=re.M)
            data = text.encode("utf-8")
        try:
            _write(target, data)
        except OSError as exc:
            raise _unwritable(target, exc, home) from None
        written.append(target)
    return written


def uninstall(data_home: Path | None = None) -> list[Path]:
    """Remove exactly what install() writes, then the folders that left empty; returns what went."""
    _check_platform()
    home = data_home or default_data_home()
    removed: list[Path] = []
    folders: set[Path] = set()
    for rel in targets():
        target = home / rel
        folders.update(p for p in target.parents if p != home and home in p.parents)
        if not (target.exists() or target.is_symlink()):
            continue
        try:
            target.unlink()
        except OSError as exc:
            raise _unwritable(target, exc, home, "remove") from None
        removed.append(target)
    if not removed:
        return []  # nothing of ours here: leave folders alone, even empty ones
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            continue  # not empty (other apps' files) or not ours to remove: harmless either way
        removed.append(folder)
    return removed


def run_desktop(action: str) -> int:
    """The CLI: one line per path, then what it means for the menu."""
    if action == "install":
        for path in install():
            print(f"installed {path}")
        print("Sori is in the application menu (it may take a moment to appear)")
        return 0
    removed = uninstall()
    if not removed:
        print(f"Sori is not in the application menu under {default_data_home()}; nothing to remove")
        return 0
    for path in removed:
        print(f"removed {path}")
    print("Sori is removed from the application menu")
    return 0
