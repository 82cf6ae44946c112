"""Guard against a PySide6 reference-count bug that would crash the app with
"Fatal Python error: none_dealloc: deallocating None".

PySide6 6.12.0 returns `None` from every void C++ method without taking a reference to it. From Python 3.12
on, None is immortal and that is harmless; on Python 3.11 each call (label.setText, painter.drawLine, ...)
takes one reference away from None for good. A live plot repaint makes hundreds of such calls, so a GUI
training run used up all ~130,000 references in about a minute and Python aborted.

The guard checks whether this Qt binding has the bug (a few calls to a void method) and, only then, gives
None a huge reference count once: in effect what Python 3.12 does (immortal objects). Nothing else changes.
"""
from __future__ import annotations

import ctypes
import sys

# As Python 3.12 does for immortal objects: far more than any process can ever take away.
_IMMORTAL_REFCOUNT = 1 << 40


def binding_leaks_none_references() -> bool:
    if sys.version_info >= (3, 12):
        return False  # None is immortal: the bug cannot hurt
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(20):
        probe.setObjectName("probe")  # a void method
    return sys.getrefcount(None) < before - 10


def install() -> bool:
    """Make None immortal when the Qt binding leaks its references. Returns True when the guard was needed."""
    if not binding_leaks_none_references():
        return False
    refcount = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the first field of every object
    if refcount.value < _IMMORTAL_REFCOUNT:
        refcount.value += _IMMORTAL_REFCOUNT
    return True


NEEDED = install()
