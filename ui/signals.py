"""Keeps Python's True alive under PySide6 releases whose SignalInstance.emit() loses a reference to it.

PySide6 6.12 returns its bool result from emit() without a new reference, so on Python 3.11 (where True is
not immortal) every signal emitted from Python takes one reference away from True. A window emits a few
thousand an hour (streamed answers, the level meter at 20 a second): after some minutes the interpreter
frees True and aborts ("Fatal Python error: bool_dealloc"). Where that is measured, emit() is wrapped to
add back the reference it should have given.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance


class _Probe(QObject):
    fired = Signal()


def _loses_references() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True) + sys.getrefcount(False)
    for _ in range(10):
        probe.fired.emit()  # the result is dropped at once, as at every call site
    return sys.getrefcount(True) + sys.getrefcount(False) < before


def install() -> bool:
    """Wrap emit() if this PySide6 needs it (once per process); True when it was wrapped."""
    if sys.version_info >= (3, 12) or getattr(SignalInstance.emit, "_keeps_references", False):
        return False  # immortal bools there; or wrapped already
    if not _loses_references():
        return False
    emit = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]

    def emit_keeping_references(self: SignalInstance, *args: object) -> object:
        result = emit(self, *args)
        incref(result)  # the reference emit() handed over without owning it
        return result

    emit_keeping_references._keeps_references = True  # type: ignore[attr-defined]
    SignalInstance.emit = emit_keeping_references  # type: ignore[method-assign]
    return True
