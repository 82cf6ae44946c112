"""A copy of the live model's weights on request, for the app's inspector while a run trains in its own process.

The app asks (SIGUSR1 to the single process it started, or a new "snapshot" number in RUN/control.json for a
run it only follows or a multi-process job: core.runs.control); at the next batch boundary, or at once while
paused, this callback writes RUN/live.pt atomically (core.io.atomic): a weights-only checkpoint (no optimizer
state) whose metrics carry the step it was taken at. The app loads it off its GUI thread. The file goes when
the run ends.

Asking only sets a flag, so it is safe from a signal handler; the copy itself is made on the training thread,
never in the middle of an optimizer step, and a snapshot that cannot be written (a full disk) costs only itself.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Iterator

from core.checkpoints.checkpoint import Checkpoint, save_checkpoint
from core.models.state import cpu_state_dict
from core.runs.control import SNAPSHOT_FILE, SNAPSHOT_SIGNAL, SNAPSHOT_STEP
from core.training.callbacks import Callback, EpochMetrics, FitStart, FitSummary, RunView


class LiveSnapshot(Callback):
    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / SNAPSHOT_FILE
        self._wanted = False

    def request(self) -> None:
        """Thread- and signal-safe: one plain assignment."""
        self._wanted = True

    def _serve(self, run: RunView) -> None:
        if not self._wanted:
            return
        self._wanted = False
        metrics = {**(run.history[-1].to_dict() if run.history else {}), SNAPSHOT_STEP: run.step}
        snapshot = Checkpoint(run.model_spec, list(run.data.classes), run.data.preprocess, cpu_state_dict(run.model),
                              None, metrics)
        try:
            save_checkpoint(snapshot, self.path)
        except OSError as exc:  # the run goes on; the asker simply gets no answer this time
            print(f"layerscope: could not write the live snapshot {self.path}: {exc}", file=sys.stderr)

    # At every batch boundary (a flag check otherwise), while paused, and before the first step.
    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        self._serve(run)

    def on_train_step(self, run: RunView) -> None:
        self._serve(run)

    def on_pause_wait(self, run: RunView) -> None:
        self._serve(run)

    def on_epoch_end(self, run: RunView, metrics: EpochMetrics) -> None:
        self._serve(run)

    def _remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def on_fit_end(self, run: RunView, summary: FitSummary) -> None:
        self._remove()

    def on_stopped(self, run: RunView, summary: FitSummary) -> None:
        self._remove()

    def on_error(self, run: RunView, error: BaseException) -> None:
        self._remove()


def live_snapshot_of(trainer) -> LiveSnapshot | None:
    return next((cb for cb in trainer.callbacks if isinstance(cb, LiveSnapshot)), None)


@contextlib.contextmanager
def snapshots_on_signal(trainer) -> Iterator[None]:
    """While inside, SIGUSR1 asks the trainer's LiveSnapshot for a copy (main thread only: elsewhere, and for a
    trainer without one, nothing changes). Entered before fit(), so the handler is in place before the run's
    first record: the app signals only a process whose start record it has read. Afterwards the signal is
    ignored rather than left to its default action (ending the process): a request the app sends before it
    has read the run's last record must not turn a finished run into a killed one."""
    live = live_snapshot_of(trainer)
    if live is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(SNAPSHOT_SIGNAL, lambda _signum, _frame: live.request())
    try:
        yield
    finally:
        signal.signal(SNAPSHOT_SIGNAL, signal.SIG_IGN if previous in (signal.SIG_DFL, None) else previous)
