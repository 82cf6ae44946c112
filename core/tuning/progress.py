"""Progress and cancelling for the tuning passes, in the shape of core's coming protocol (issue 17): a
`progress(done, total, message)` callable and a `cancelled()` callable, or one object with both methods.
Kept private to this package so it can be swapped for the shared one when that lands."""
from __future__ import annotations

from typing import Callable

from core.errors import Cancelled


class Steps:
    """What a long pass calls: `check()` once per step (raises Cancelled), `report(done, total, message)`."""

    def __init__(self, progress=None, cancelled: Callable[[], bool] | None = None):
        if cancelled is None and progress is not None and hasattr(progress, "cancelled"):
            cancelled = progress.cancelled
        if progress is not None and not callable(progress) and hasattr(progress, "progress"):
            progress = progress.progress
        self._progress = progress
        self._cancelled = cancelled

    @property
    def is_cancelled(self) -> bool:
        return bool(self._cancelled and self._cancelled())

    def check(self) -> None:
        if self.is_cancelled:
            raise Cancelled("cancelled")

    def report(self, done: int, total: int, message: str = "") -> None:
        if self._progress is not None:
            self._progress(done, total, message)
