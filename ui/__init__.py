"""Sori's desktop window (PySide6). The only package that imports Qt; it talks to the core through one
bridge object (ui.bridge.Bridge).

This module itself imports no Qt, so `sori` can ask whether a window is possible without paying for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import sys
from pathlib import Path

# Platforms that need no display server (tests, screenshots, remote viewing).
_HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def display_problem() -> str | None:
    """Why a window cannot be opened here (one line with the fix), or None when it can."""
    if importlib.util.find_spec("PySide6") is None:
        return "the desktop window needs PySide6 (pip install PySide6-Essentials)"
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform in _HEADLESS_PLATFORMS:
        return None
    if sys.platform in ("win32", "darwin"):
        return None
    if platform.startswith("wayland") or (not platform and _wayland_socket() is not None):
        return None
    display = os.environ.get("DISPLAY", "")
    if not display:
        return "no display (DISPLAY and WAYLAND_DISPLAY are not set)"
    if ctypes.util.find_library("xcb-cursor") is None:
        # Qt 6.5+ refuses to start its X11 plugin without it (and aborts the process).
        return "Qt's X11 support needs libxcb-cursor0 (sudo apt-get install libxcb-cursor0)"
    if not _x_display_opens(display):
        return f"cannot connect to the X display {display!r}"
    return None


def display_available() -> bool:
    """True when the desktop window can be opened (see display_problem() for why not)."""
    return display_problem() is None


def _wayland_socket() -> Path | None:
    name = os.environ.get("WAYLAND_DISPLAY", "")
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if not name:
        return None
    path = Path(name) if name.startswith("/") else Path(runtime) / name
    return path if path.exists() else None


def _x_display_opens(display: str) -> bool:
    """Open and close the X display with libX11: Qt aborts the process when it cannot, so ask first."""
    lib = ctypes.util.find_library("X11")
    if lib is None:
        # No libX11 to ask: a local display is there when its socket is.
        number = display.split(":")[-1].split(".")[0]
        return not display.startswith(":") or Path(f"/tmp/.X11-unix/X{number}").exists()
    try:
        x11 = ctypes.CDLL(lib)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        handle = x11.XOpenDisplay(display.encode())
    except OSError:
        return True  # cannot check; let Qt try
    if not handle:
        return False
    x11.XCloseDisplay(handle)
    return True


__all__ = ["display_available", "display_problem"]
