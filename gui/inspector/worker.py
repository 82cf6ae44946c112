"""Run inspection work off the GUI thread: one private single-thread pool, results back by queued signal.

One thread is enough (inference on one image is short) and keeps jobs in order, so the model cache in
InspectionEngine is never used by two threads at once. A job is a plain function; whatever it returns or
yields is emitted on `delivered` and, being emitted from the pool thread, reaches GUI slots queued.
"""
from __future__ import annotations

import traceback
from typing import Callable, Iterator

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
            if isinstance(result, Iterator):  # a generator: deliver each item as soon as it is ready
                for item in result:
                    self._relay.delivered.emit(item)
            elif result is not None:
                self._relay.delivered.emit(result)
        except Exception as exc:  # a bug or a bad model must reach the user as a message, not kill the thread
            message = f"{type(exc).__name__}: {exc}"
            self._relay.delivered.emit(JobFailed(self._generation, self._kind, message, traceback.format_exc()))
        finally:
            self._relay.jobDone.emit()


class InspectionWorker(QObject):
    delivered = Signal(object)  # RowResult | DetailResult | SaliencyResult | JobFailed
    jobDone = Signal()

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
