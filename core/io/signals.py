"""SIGINT and SIGTERM, handled one way for a training process.

The first signal asks the trainer to stop after the current batch (it then saves last.pt); exit status is
core.exit_codes.for_signal (130 for Ctrl+C, 143 for SIGTERM, as shells and schedulers expect). A signal before
there is a trainer, or a second one, aborts at once by raising `Interrupted`, except while a file is being
written atomically: then the abort waits until the file is complete, so a checkpoint is never cut off.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
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


def already_interrupted() -> bool:
    """Whether an abort (or a KeyboardInterrupt) is already on its way out: the signal handler runs between two
    bytecodes of the interrupted code, so an exception being handled there (an except, a finally, an __exit__
    on the way up) is visible here. A second Ctrl+C then adds nothing: raising again would replace the first
    abort inside its own handling, and one escaping to the top ends Python by the default handler (status -2)."""
    return isinstance(sys.exc_info()[1], KeyboardInterrupt)


def abort(signum: int) -> None:
    """Raise Interrupted now, or at the end of the protected stretch in progress; nothing when an abort is
    already on its way out."""
    if already_interrupted():
        return
    if _depth() > 0:
        _state.pending = Interrupted(signum)
        return
    raise Interrupted(signum)


def run_main(main: Callable[[], int]) -> int:
    """A command's exit status, whatever signals arrive: the process entry point (python -m core.cli, the
    `layerscope` command) calls its main through this. Around main, SIGINT / SIGTERM abort with Interrupted
    (main installs its own handlers inside; they go back to these), a second one while an abort is on its
    way out is ignored, an abort that reaches here gives 128 + the signal; once main has returned, a signal
    ends the process at once with main's own status (a Ctrl+C during a slow interpreter exit), never by the
    default handler."""
    ended: list[int] = []

    def handle(signum, frame) -> None:
        if ended:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(ended[0])
        abort(signum)

    if threading.current_thread() is threading.main_thread():
        for sig in HANDLED_SIGNALS:
            signal.signal(sig, handle)
    code, returned = 1, False
    while not ended:
        try:
            if not returned:
                code, returned = main(), True
            ended.append(code if isinstance(code, int) else 0 if code is None else 1)
        except KeyboardInterrupt as exc:  # also a signal between main's return and the line above
            if not returned:
                code, returned = (exc.exit_code if isinstance(exc, Interrupted) else exit_codes.for_signal(signal.SIGINT)), True
    return ended[0]


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
