"""Run work off the GUI thread and deliver only the latest answer.

The views here (health report, augmentation preview, layer table) all follow one pattern: the user changes
something, a function runs on a worker thread, and its result replaces what is shown. When the user changes
it again before the result arrives, the old result is stale and must be dropped; a generation counter does
that. Each BackgroundTask owns a one-thread pool, so `shutdown()` can wait for exactly its own work.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, QTimer, Signal, Slot


# Jobs import core lazily (torch must not load before the window shows). Two worker threads importing a
# package and its submodule for the first time at once can deadlock in Python's import machinery
# (_DeadlockError on core.data.folder), so the first import of the engine happens once, under a lock.
_IMPORT_LOCK = threading.Lock()
ENGINE_MODULES = ("core.data", "core.data.health", "core.data.preview", "core.data.standard", "core.models",
                  "core.models.memory")
_imported: set[str] = set()


def import_engine(modules: tuple[str, ...] = ENGINE_MODULES) -> None:
    """Import `modules` once, one thread at a time (a set lookup after the first call)."""
    if _imported.issuperset(modules):
        return
    import importlib

    with _IMPORT_LOCK:
        for name in modules:
            if name not in _imported:
                importlib.import_module(name)
                _imported.add(name)


class Cancelled(Exception):
    """Raised inside a job (by TaskContext.check) when the task was cancelled or superseded."""


class TaskContext:
    """What a job sees: report progress, and ask whether it should stop."""

    def __init__(self, owner: "BackgroundTask", generation: int):
        self._owner, self._generation = owner, generation
        self._last_progress = 0.0

    def cancelled(self) -> bool:
        return self._owner._generation != self._generation or self._owner._cancel_flag.is_set()

    def check(self) -> None:
        if self.cancelled():
            raise Cancelled()

    def progress(self, done: int, total: int, text: str = "") -> None:
        # At most ~20 updates a second reach the GUI thread, however fast the job counts.
        now = time.monotonic()
        if done < total and now - self._last_progress < 0.05:
            return
        self._last_progress = now
        self._owner._signals.progress.emit(self._generation, int(done), int(total), str(text))


class _Signals(QObject):
    done = Signal(int, object)
    failed = Signal(int, str)
    progress = Signal(int, int, int, str)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[TaskContext], Any], context: TaskContext, signals: _Signals, generation: int):
        super().__init__()
        self.setAutoDelete(True)
        self._fn, self._context, self._signals, self._generation = fn, context, signals, generation

    def run(self) -> None:
        if self._context.cancelled():
            return
        try:
            import_engine()
            result = self._fn(self._context)
        except Cancelled:
            return
        except Exception as exc:  # the app stays usable; the owner shows the message
            if self._context.cancelled():
                return  # the job's own way of stopping (e.g. core's Cancelled): nobody waits for it
            # core's own errors (DatasetError, ModelError, ...) are written for the user; others get their type
            # and a traceback on stderr for whoever debugs it.
            plain = type(exc).__module__.startswith("core.") and str(exc)
            if not plain:
                traceback.print_exc()
            self._signals.failed.emit(self._generation, str(exc) if plain else
                                      (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__))
            return
        self._signals.done.emit(self._generation, result)


class BackgroundTask(QObject):
    """Submit `fn(context)`; `finished(result)` fires on the GUI thread for the latest submission only.

    `debounce_ms` > 0 waits that long after the last submit before starting, so a spin box being scrolled
    starts one job, not twenty.
    """

    started = Signal()
    finished = Signal(object)
    failed = Signal(str)
    progress = Signal(int, int, str)  # done, total, text
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None, debounce_ms: int = 0):
        super().__init__(parent)
        # The pool is created before the signals object so that, when Qt deletes the children in order,
        # the pool waits for a running job before the object that job emits on goes away.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._signals.progress.connect(self._on_progress)
        self._generation = 0
        self._running_generation = -1
        self._cancel_flag = threading.Event()
        self._closed = False
        self._pending: Callable | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start_pending)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def busy(self) -> bool:
        return self._running_generation == self._generation or self._timer.isActive()

    def submit(self, fn: Callable[[TaskContext], Any]) -> None:
        if self._closed:
            return  # shut down (window closing): no new threads
        self._generation += 1  # whatever runs now is stale from this moment
        self._pending = fn
        if self._timer.interval() > 0:
            self._timer.start()
        else:
            self._start_pending()

    def _start_pending(self) -> None:
        fn, self._pending = self._pending, None
        if fn is None:
            return
        self._cancel_flag.clear()
        self._pool.clear()  # jobs queued but not started are stale
        self._running_generation = self._generation
        self._pool.start(_Job(fn, TaskContext(self, self._generation), self._signals, self._generation))
        self.started.emit()

    def cancel(self) -> None:
        """Stop the current job at its next check and forget its result."""
        was_busy = self.busy
        self._timer.stop()
        self._pending = None
        self._generation += 1
        self._cancel_flag.set()
        self._pool.clear()
        self._running_generation = -1
        if was_busy:
            self.cancelled.emit()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and wait for the worker thread to finish (window close, test teardown); later submits
        are ignored."""
        self._closed = True
        self.cancel()
        return self._pool.waitForDone(timeout_ms)

    @Slot(int, object)
    def _on_done(self, generation: int, result: object) -> None:
        if generation == self._generation:
            self._running_generation = -1
            self.finished.emit(result)

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._running_generation = -1
            self.failed.emit(message)

    @Slot(int, int, int, str)
    def _on_progress(self, generation: int, done: int, total: int, text: str) -> None:
        if generation == self._generation:
            self.progress.emit(done, total, text)
