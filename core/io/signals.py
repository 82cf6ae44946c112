"""SIGINT and SIGTERM, handled one way for a training process.

The first signal asks the trainer to stop after the current batch (it then saves last.pt); exit status is
core.exit_codes.for_signal (130 for Ctrl+C, 143 for SIGTERM, as shells and schedulers expect). A signal before
there is a trainer, or a second one, aborts at once by raising `Interrupted`, except while a file is being
written atomically: then the abort waits until the file is complete, so a checkpoint is never cut off.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

from core import exit_codes

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_state = threading.local()


class Interrupted(KeyboardInterrupt):
    """Raised by a signal handler to abort; `exit_code` is the status for that signal (core.exit_codes)."""

    status = "interrupted"  # how the run folder records it

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return exit_codes.for_signal(self.signum)


def _depth() -> int:
    return getattr(_state, "depth", 0)


@contextlib.contextmanager
def protected() -> Iterator[None]:
    """A stretch (an atomic file write) that an abort must not cut: an abort arriving inside waits for
    its end and is raised there."""
    _state.depth = _depth() + 1
    try:
        yield
    finally:
        _state.depth = _depth() - 1
        pending = getattr(_state, "pending", None)
        if _state.depth == 0 and pending is not None:
            _state.pending = None
            raise pending


def abort(signum: int) -> None:
    """Raise Interrupted now, or at the end of the protected stretch in progress."""
    if _depth() > 0:
        _state.pending = Interrupted(signum)
        return
    raise Interrupted(signum)


class SignalStop:
    """Installs SIGINT/SIGTERM handlers (main thread only). Before `attach(stop)` any signal aborts;
    after it, the first signal calls `stop()` and the next one aborts. `signum` is the first one seen."""

    def __init__(self, on_first: Callable[[int], None] | None = None):
        self.signum: int | None = None
        self._stop: Callable[[], None] | None = None
        self._on_first = on_first
        self._previous: dict[int, object] = {}

    def attach(self, stop: Callable[[], None]) -> None:
        self._stop = stop

    @property
    def exit_code(self) -> int | None:
        return exit_codes.for_signal(self.signum) if self.signum is not None else None

    def _handle(self, signum, frame) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if first and self._stop is not None:
            self._stop()
            if self._on_first is not None:
                self._on_first(signum)
            return
        abort(signum)

    def __enter__(self) -> "SignalStop":
        if threading.current_thread() is threading.main_thread():
            for sig in HANDLED_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
