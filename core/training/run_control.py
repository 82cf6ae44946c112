"""ControlWatch: the callback that applies RUN/control.json (core.runs.control) to the trainer of the run's main
process: pause, resume and stop asked from outside the run's processes."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from core.runs.control import POLL_INTERVAL_S, control_path, read_control, remove_control, write_control
from core.training.callbacks import Callback, FitStart, FitSummary, RunView


class ControlWatch(Callback):
    """Applies RUN/control.json to the trainer of this process (the main one). A new snapshot number calls
    `on_snapshot()` (core.training.live_snapshot.LiveSnapshot.request)."""

    def __init__(self, run_dir: str | os.PathLike, interval_s: float = POLL_INTERVAL_S,
                 on_snapshot: Callable[[], None] | None = None):
        self.run_dir = Path(run_dir)
        self.interval_s = interval_s
        self.on_snapshot = on_snapshot
        self._next_look = 0.0
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read
        self._snapshot_seen: int | None = None

    def poll(self, run: RunView, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_look:
            return
        self._next_look = now + self.interval_s
        try:
            st = control_path(self.run_dir).stat()
        except OSError:
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._seen:
            return
        self._seen = stamp
        control = read_control(self.run_dir) or {"pause": None, "stop": False, "snapshot": None}
        if control["snapshot"] is not None and control["snapshot"] != self._snapshot_seen:
            self._snapshot_seen = control["snapshot"]
            if self.on_snapshot is not None:
                self.on_snapshot()
        if control["stop"]:
            run.stop()
        elif control["pause"] is True and not run.pause_wanted:
            run.pause()
        elif control["pause"] is False and run.pause_wanted:
            run.resume()

    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        control = read_control(self.run_dir)
        if control and control["stop"]:  # meant for an earlier process of this run (it ended before reading it)
            try:
                write_control(self.run_dir, pause=control["pause"], snapshot=control["snapshot"])
            except OSError:
                pass
        self.poll(run, force=True)  # a run started (or resumed) with the file saying pause starts paused

    def on_fit_end(self, run: RunView, summary: FitSummary) -> None:
        remove_control(self.run_dir)

    def on_stopped(self, run: RunView, summary: FitSummary) -> None:
        remove_control(self.run_dir)

    def on_error(self, run: RunView, error: BaseException) -> None:
        remove_control(self.run_dir)

    def on_train_step(self, run: RunView) -> None:
        self.poll(run)

    def on_pause_wait(self, run: RunView) -> None:
        self.poll(run)
