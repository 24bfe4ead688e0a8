"""PyInstaller runtime hook: let sounddevice find the bundled PortAudio where the system has none.

sounddevice asks ctypes.util.find_library("portaudio"), which only searches the system's library cache.
"""

import ctypes.util
import os
import sys

_find_library = ctypes.util.find_library


def _find_library_or_bundled(name: str) -> str | None:
    found = _find_library(name)
    if found is None and name == "portaudio":
        bundled = os.path.join(getattr(sys, "_MEIPASS", ""), "libportaudio.so.2")
        if os.path.isfile(bundled):
            return bundled
    return found


ctypes.util.find_library = _find_library_or_bundled
