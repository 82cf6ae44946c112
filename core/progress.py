"""One way for every long pass to report progress and hear a cancel: the `Progress` protocol.

A long pass (data health, decoding a folder, an evaluation, cross-validation, the dossier's top-images pass,
and whatever comes next: feature extraction, visualisation, sweeps) takes ONE optional argument,
`progress: Progress = NO_PROGRESS`, and uses it like this:

    def scan(items, progress: Progress = NO_PROGRESS):
        for i, item in enumerate(items):
            progress.check_cancelled()                # raises core.errors.Cancelled once nobody wants the result
            work(item)
            progress.update(i + 1, len(items), "scanning")

    # a pass made of stages gives each stage its share of the bar:
    read_images(root, progress=share(progress, 0.0, 0.1))
    train_folds(images, progress=share(progress, 0.1, 1.0))

Who provides one: the GUI's background tasks (gui/concurrent.py's TaskContext is a Progress: throttled to the
GUI thread, cancelled when superseded); the CLI and tests wrap plain functions with `Reporter(report, cancel)`.
A pass never throttles: the receiver does (TaskContext sends ~20 updates a second whatever the pass reports).
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

from core.errors import Cancelled

SHARE_UNITS = 1000  # a share reports to its parent in thousandths of the parent's bar


@runtime_checkable
class Progress(Protocol):
    def update(self, done: int, total: int, message: str = "") -> None:
        """`done` of `total` units of work are finished; `message` says what is being done."""

    def cancelled(self) -> bool:
        """True once the result is no longer wanted (the pass should stop soon)."""

    def check_cancelled(self) -> None:
        """Raise core.errors.Cancelled when cancelled(); call it between units of work."""


class Reporter:
    """A Progress made of two plain functions, both optional: `report(done, total, message)` and `cancel()`
    returning True to stop. `Reporter()` reports nowhere and is never cancelled (NO_PROGRESS)."""

    def __init__(self, report: Callable[[int, int, str], None] | None = None,
                 cancel: Callable[[], bool] | None = None):
        self._report, self._cancel = report, cancel

    def update(self, done: int, total: int, message: str = "") -> None:
        if self._report is not None:
            self._report(done, total, message)

    def cancelled(self) -> bool:
        return self._cancel is not None and bool(self._cancel())

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise Cancelled("cancelled")


NO_PROGRESS: Progress = Reporter()


class _Share:
    """The stretch [start, stop] (fractions) of a parent's bar; cancelled when the parent is."""

    def __init__(self, parent: Progress, start: float, stop: float):
        self.parent, self.start, self.stop = parent, float(start), float(stop)

    def update(self, done: int, total: int, message: str = "") -> None:
        fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 1.0
        self.parent.update(round(SHARE_UNITS * (self.start + (self.stop - self.start) * fraction)), SHARE_UNITS,
                           message)

    def cancelled(self) -> bool:
        return self.parent.cancelled()

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()


def share(progress: Progress, start: float, stop: float) -> Progress:
    """A Progress for one stage of a pass: its 0..total fills `progress` from `start` to `stop` (fractions)."""
    return progress if progress is NO_PROGRESS else _Share(progress, start, stop)


class Offset:
    """Several lists counted as one: a stage adds `offset` to its own count so the bar runs over `total`
    (the train, val and test images of one folder decoded as one count). Call `advance(n)` after a stage."""

    def __init__(self, parent: Progress, total: int):
        self.parent, self.total, self.offset = parent, int(total), 0

    def update(self, done: int, _total: int, message: str = "") -> None:
        self.parent.update(self.offset + done, self.total, message)

    def advance(self, n: int) -> None:
        self.offset += int(n)

    def cancelled(self) -> bool:
        return self.parent.cancelled()

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()
