"""Progress and cancel for the long passes of familiarity and the map, one check per batch or step.

Private stand-in for issue 17's shared protocol (core/progress.py): a pass takes an optional
`progress(done, total, message)` callable and a `cancelled()` callable, or one object that has both as
methods, and raises core.errors.Cancelled as soon as `cancelled()` says so.
"""
from __future__ import annotations

from typing import Callable

from core.errors import Cancelled


class Steps:
    """What a pass calls: `check()` between steps, `report(done, total, message)` after each one."""

    def __init__(self, progress: Callable | object | None = None, cancelled: Callable[[], bool] | None = None):
        if progress is not None and not callable(progress):  # one object carrying both methods
            cancelled = cancelled or getattr(progress, "cancelled", None)
            progress = getattr(progress, "progress", None)
        self._progress, self._cancelled = progress, cancelled

    def is_cancelled(self) -> bool:
        return self._cancelled is not None and bool(self._cancelled())

    def check(self, what: str = "the pass") -> None:
        if self.is_cancelled():
            raise Cancelled(f"{what} was cancelled")

    def report(self, done: int, total: int, message: str = "") -> None:
        if self._progress is not None:
            self._progress(done, total, message)


def steps(progress=None, cancelled=None) -> Steps:
    """A Steps from whatever the caller passed (None, callables, an object, or a Steps already)."""
    return progress if isinstance(progress, Steps) else Steps(progress, cancelled)
