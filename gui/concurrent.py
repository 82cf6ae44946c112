"""The GUI's one background-work primitive: run functions off the GUI thread, deliver only current answers.

Every view that computes something slow (health scan, augmentation preview, model summary, dataset
listing, thumbnails, inspection, checkpoint open/save, the engine import, the poll of a training run) uses a
BackgroundTask. Training itself runs in a process of its own (core.processes.job), never on a thread here.

One generation scheme drops stale results: `submit()` starts a new generation, so everything still running
for an older one is stale from that moment; its result, progress and partial deliveries are dropped on
arrival (counted in `stale_count`) and a job that has not started yet never starts. `add()` queues another
job in the *same* generation (one job per image of a drop, thumbnail drainers). A job sees a TaskContext, which
is core's progress protocol (core/progress.py): `check_cancelled()` raises core's Cancelled once it is superseded
or cancelled, `update(done, total, message)` is throttled to ~20 updates a second; and `deliver()` sends a
partial result.

Why our own rather than superqt's thread workers: superqt's `create_worker` / `thread_worker` make one
worker object per call (a QRunnable on Qt's global pool, with returned/errored/yielded signals and
cancellation through generator functions). What every view here needs on top of that, dropping results
that a newer request has superseded, would still be written by hand in each view; and the inspector needs
three lanes (rows, detail, saliency) on ONE thread of its own (its model cache is single-threaded) with
the selected image jumping the queue, while the thumbnails need N threads draining one stack. A
QThreadPool per task (or one shared by several tasks) plus one generation counter does all of that in a
couple of hundred lines, with no extra dependency, and `shutdown()` can wait for exactly its own threads.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

from core.errors import Cancelled, user_message

log = logging.getLogger(__name__)

# Jobs import core lazily (torch must not load before the window shows). Two worker threads importing a
# package and its submodule for the first time at once can deadlock in Python's import machinery
# (_DeadlockError on core.data.folder), so the first import of the engine happens once, under a lock.
_IMPORT_LOCK = threading.Lock()
ENGINE_MODULES = ("core.data", "core.data.health", "core.data.preview", "core.data.standard", "core.models",
                  "core.models.memory")
_imported: set[str] = set()

__all__ = ["BackgroundTask", "TaskContext", "failure_message", "import_engine", "ENGINE_MODULES"]


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


def failure_message(exc: BaseException) -> str:
    """What the user reads when a job fails: a LayerscopeError's own message (or a known kind of failure: out of
    memory, a full disk); anything else is a bug, so a short "internal error" and the traceback in the log."""
    message = user_message(exc)
    if message is None:
        log.error("internal error in a background task", exc_info=exc)
        message = f"internal error ({type(exc).__name__}); details in the log"
    return message


class TaskContext:
    """What a job sees: its generation, whether it is still wanted, progress and partial results. It is a
    core.progress.Progress, so a job hands it to any long pass in core as is (`scan_health(root, context)`)."""

    def __init__(self, owner: "BackgroundTask", generation: int):
        self._owner, self.generation = owner, generation
        self._last_progress = 0.0

    def cancelled(self) -> bool:
        return self._owner._generation != self.generation  # an int read: safe from any thread

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise Cancelled("superseded")

    def update(self, done: int, total: int, message: str = "") -> None:
        # At most ~20 updates a second reach the GUI thread, however fast the job counts.
        now = time.monotonic()
        if done < total and now - self._last_progress < 0.05:
            return
        self._last_progress = now
        self._owner._signals.progress.emit(self.generation, int(done), int(total), str(message))

    def deliver(self, value: object) -> None:
        """A partial result (one thumbnail of many): `partial(value)` on the GUI thread, if still current."""
        if not self.cancelled():
            self._owner._signals.partial.emit(self.generation, value)


class _Signals(QObject):
    done = Signal(int, object)
    failed = Signal(int, str, str)
    progress = Signal(int, int, int, str)
    partial = Signal(int, object)
    ended = Signal(int)  # a job that ended without done/failed: keeps the running count exact


class _Job(QRunnable):
    def __init__(self, fn: Callable[[TaskContext], Any], context: TaskContext, signals: _Signals,
                 imports: tuple[str, ...]):
        super().__init__()
        self.setAutoDelete(True)
        self._fn, self._context, self._signals, self._imports = fn, context, signals, imports

    def run(self) -> None:
        reported = False
        try:
            reported = self._run()
        finally:
            if not reported:
                self._signals.ended.emit(self._context.generation)

    def _run(self) -> bool:
        """True when done or failed was emitted (they end the job's count themselves)."""
        generation = self._context.generation
        if self._context.cancelled():
            return False  # superseded before it started: never run
        try:
            import_engine(self._imports)
            result = self._fn(self._context)
        except Cancelled:
            return False
        except Exception as exc:  # the app stays usable; the owner shows the message
            if self._context.cancelled():
                return False  # the job's own way of stopping: nobody waits for it
            self._signals.failed.emit(generation, failure_message(exc), traceback.format_exc())
            return True
        self._signals.done.emit(generation, result)
        return True


class BackgroundTask(QObject):
    """Submit `fn(context)`; `finished(result)` fires on the GUI thread for current jobs only.

    debounce_ms > 0: wait that long after the last submit before starting, so a spin box being scrolled
    starts one job, not twenty. threads: the size of the task's own pool; or pass `pool` to share one pool
    (and its threads) between several tasks. imports: modules a job needs, imported once under a lock.
    """

    started = Signal()
    finished = Signal(object)
    failed = Signal(str)  # a message for the user; the traceback is in `last_error_details`
    progress = Signal(int, int, str)  # done, total, text
    partial = Signal(object)  # TaskContext.deliver(value)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None, debounce_ms: int = 0, threads: int = 1,
                 pool: QThreadPool | None = None, imports: tuple[str, ...] = ENGINE_MODULES):
        super().__init__(parent)
        # An own pool is created before the signals object so that, when Qt deletes the children in order,
        # the pool waits for a running job before the object that job emits on goes away.
        self._own_pool = pool is None
        if pool is None:
            pool = QThreadPool(self)
            pool.setMaxThreadCount(max(1, int(threads)))
        self._pool = pool
        self._imports = tuple(imports)
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._signals.progress.connect(self._on_progress)
        self._signals.partial.connect(self._on_partial)
        self._signals.ended.connect(self._on_ended)
        self._generation = 0
        self._running = 0  # jobs of the current generation started and not yet ended
        self._closed = False
        self._pending: list[tuple[Callable, int]] = []
        self.stale_count = 0  # results that arrived after being superseded, and were dropped
        self.last_error_details = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start_pending)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def busy(self) -> bool:
        return self._running > 0 or self._timer.isActive()

    def submit(self, fn: Callable[[TaskContext], Any], priority: int = 0) -> int:
        """Run `fn` as a new generation: whatever runs or waits for an older one is stale. Returns the
        new generation."""
        if self._closed:
            return self._generation  # shut down (window closing): no new threads
        self._generation += 1
        self._running = 0
        self._pending = [(fn, priority)]
        if self._timer.interval() > 0:
            self._timer.start()
        else:
            self._start_pending()
        return self._generation

    def add(self, fn: Callable[[TaskContext], Any], priority: int = 0) -> None:
        """Run `fn` too, in the current generation (another image of the same drop)."""
        if self._closed:
            return
        self._pending.append((fn, priority))
        if not self._timer.isActive():
            self._start_pending()

    def _start_pending(self) -> None:
        jobs, self._pending = self._pending, []
        for fn, priority in jobs:
            self._running += 1
            self._pool.start(_Job(fn, TaskContext(self, self._generation), self._signals, self._imports), priority)
        if jobs:
            self.started.emit()

    def cancel(self) -> None:
        """Stop the current jobs at their next check and forget their results."""
        was_busy = self.busy
        self._timer.stop()
        self._pending = []
        self._generation += 1
        self._running = 0
        if self._own_pool:
            self._pool.clear()  # queued jobs of an own pool are all stale now
        if was_busy:
            self.cancelled.emit()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the pool has no job left (tests; callers that need the answer at once)."""
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and wait for the worker threads (window close, test teardown); later submits are ignored."""
        self._closed = True
        self.cancel()
        return self._pool.waitForDone(timeout_ms)

    def _current(self, generation: int) -> bool:
        if generation != self._generation:
            self.stale_count += 1
            return False
        return True

    @Slot(int, object)
    def _on_done(self, generation: int, result: object) -> None:
        self._on_ended(generation)
        if self._current(generation):
            self.finished.emit(result)

    @Slot(int, str, str)
    def _on_failed(self, generation: int, message: str, details: str) -> None:
        self._on_ended(generation)
        if self._current(generation):
            self.last_error_details = details
            self.failed.emit(message)

    @Slot(int, int, int, str)
    def _on_progress(self, generation: int, done: int, total: int, text: str) -> None:
        if generation == self._generation:
            self.progress.emit(done, total, text)

    @Slot(int, object)
    def _on_partial(self, generation: int, value: object) -> None:
        if self._current(generation):
            self.partial.emit(value)

    @Slot(int)
    def _on_ended(self, generation: int) -> None:
        if generation == self._generation and self._running > 0:
            self._running -= 1
