"""Guard against a PySide6 reference-count bug that would crash the app with
"Fatal Python error: none_dealloc: deallocating None".

PySide6 6.12.0 returns `None` from every void C++ method without taking a reference to it. From Python 3.12
on, None is immortal and that is harmless; on Python 3.11 each call (label.setText, painter.drawLine, ...)
takes one reference away from None for good. A live plot repaint makes hundreds of such calls, so a GUI
training run used up all ~130,000 references in about a minute and Python aborted. Emitting a signal that
carries True to a Python slot takes a reference from True the same way ("bool_dealloc").

The guard checks whether this Qt binding has the bug (a few void calls and signal emits) and, only then,
gives None, True and False a huge reference count once: in effect what Python 3.12 does (immortal objects).
Nothing else changes.
"""
from __future__ import annotations

import ctypes
import sys

# As Python 3.12 does for immortal objects: far more than any process can ever take away.
_IMMORTAL_REFCOUNT = 1 << 40


def binding_leaks_singleton_references() -> bool:
    if sys.version_info >= (3, 12):
        return False  # None, True and False are immortal: the bug cannot hurt
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        flag = Signal(bool)

    probe = _Probe()
    probe.flag.connect(lambda value: None)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(20):
        probe.setObjectName("probe")  # a void method
        probe.flag.emit(True)
    return sys.getrefcount(None) < none_before - 10 or sys.getrefcount(True) < true_before - 10


def install() -> bool:
    """Make None, True and False immortal when the Qt binding leaks their references. Returns True when
    the guard was needed."""
    if not binding_leaks_singleton_references():
        return False
    for singleton in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt: the first field of an object
        if refcount.value < _IMMORTAL_REFCOUNT:
            refcount.value += _IMMORTAL_REFCOUNT
    return True


NEEDED = install()
