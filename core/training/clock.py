"""The run's clock: seconds of training, which stand still while the run is paused.

A run paused for ten minutes has not trained for ten minutes: its epoch's duration and images per second, its
elapsed time and its ETA are measured on this clock, so a pause changes none of them.
"""
from __future__ import annotations

import time


class RunClock:
    """Like time.perf_counter (read at each call), minus the time spent between `pause()` and `resume()`."""

    def __init__(self):
        self._paused_total = 0.0
        self._paused_at: float | None = None

    def now(self) -> float:
        wall = time.perf_counter()
        paused = self._paused_total + (wall - self._paused_at if self._paused_at is not None else 0.0)
        return wall - paused

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = time.perf_counter()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += time.perf_counter() - self._paused_at
            self._paused_at = None
