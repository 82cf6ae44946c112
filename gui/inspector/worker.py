"""Run inspection work off the GUI thread: one private single-thread pool, results back by queued signal.

One thread is enough (inference on one image is short) and runs one job at a time, so the model cache in
InspectionEngine is never used by two threads at once. A job is a plain function; what it returns is
emitted on `delivered` and, being emitted from the pool thread, reaches GUI slots queued.
"""
from __future__ import annotations

import traceback
from typing import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class JobFailed:
    """Delivered instead of a result when a job raised: the GUI shows `message`, the app goes on."""

    def __init__(self, generation: int, kind: str, message: str, details: str = ""):
        self.generation, self.kind, self.message, self.details = generation, kind, message, details


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], object], relay: "InspectionWorker", generation: int, kind: str):
        super().__init__()
        self.setAutoDelete(True)
        self._fn, self._relay, self._generation, self._kind = fn, relay, generation, kind

    def run(self) -> None:
        try:
            result = self._fn()
            if result is not None:  # None: the job found it was no longer wanted
                self._relay.delivered.emit(result)
        except Exception as exc:  # a bug or a bad model must reach the user as a message, not kill the thread
            message = f"{type(exc).__name__}: {exc}"
            self._relay.delivered.emit(JobFailed(self._generation, self._kind, message, traceback.format_exc()))


class InspectionWorker(QObject):
    delivered = Signal(object)  # RowResult | DetailResult | SaliencyResult | JobFailed

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def submit(self, fn: Callable[[], object], generation: int = 0, kind: str = "", priority: int = 0) -> None:
        """Queue `fn`; among queued jobs a higher priority runs first (the detail of the selected image
        before the remaining rows of a big drop)."""
        self._pool.start(_Job(fn, self, generation, kind), priority)

    def drop_queued(self) -> None:
        """Forget jobs that have not started yet (their results would be stale anyway)."""
        self._pool.clear()

    def wait(self, msecs: int = -1) -> bool:
        """Block until every job has finished (used on close and by tests: no thread left running)."""
        return self._pool.waitForDone(msecs)
