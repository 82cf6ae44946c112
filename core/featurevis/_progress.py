"""A private stand-in for the shared progress/cancel protocol of issue 17 (core/progress.py).

Long passes accept `progress(done, total, message)` and `cancelled() -> bool` as two callables, or one object
with both methods; `Reporter` folds either into one thing the loops call, and raises core's Cancelled.
"""
from __future__ import annotations

from typing import Callable

from core.errors import Cancelled

ProgressFn = Callable[[int, int, str], None]
CancelledFn = Callable[[], bool]


class Reporter:
    """`step(done, total, message)` reports; `check()` raises Cancelled when the caller asked to stop."""

    def __init__(self, progress=None, cancelled: CancelledFn | None = None):
        if progress is not None and not callable(progress):  # one object with .progress and .cancelled
            cancelled = cancelled or getattr(progress, "cancelled", None)
            progress = getattr(progress, "progress", None)
        self._progress: ProgressFn | None = progress
        self._cancelled: CancelledFn | None = cancelled

    def check(self, what: str = "the pass") -> None:
        if self._cancelled is not None and self._cancelled():
            raise Cancelled(f"{what} was cancelled")

    def step(self, done: int, total: int, message: str = "") -> None:
        if self._progress is not None:
            self._progress(int(done), int(total), message)

    def scaled(self, start: int, span: int, total: int) -> "Reporter":
        """A reporter for a sub-pass whose own (done, total) maps onto [start, start + span] of `total`."""
        parent = self

        def progress(done: int, sub_total: int, message: str) -> None:
            parent.step(start + round(span * done / max(sub_total, 1)), total, message)

        return Reporter(progress, self._cancelled)


def reporter(progress=None, cancelled: CancelledFn | None = None) -> Reporter:
    return progress if isinstance(progress, Reporter) else Reporter(progress, cancelled)
