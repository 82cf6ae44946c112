"""Pause, resume and stop a run from outside its processes: RUN/control.json, {"pause": bool, "stop": bool}.

The app writes it atomically (core.processes.job.TrainJob.pause/resume, and the Train tab for a run it only
follows: a CLI run, a job started by an earlier session, a torchrun job on shared storage); the run's main
process (rank 0 of a multi-process run) watches it with `ControlWatch`, a callback that looks at the file's
mtime at most every `interval_s` seconds (one clock read per step otherwise, no stat per step) and turns a
change into the run's `pause()` / `resume()` / `stop()`. Every rank then pauses or stops together through the
strategy's per-step agreement (core.training.trainer). A job the app started is stopped with a signal instead (SIGINT
to its launcher, which also reaches a process still loading); the file's stop is for runs it has no process
handle of. Commands are for the process that is running: a stop found when a run starts was meant for an
earlier one and is cleared, and a run that ends removes the file.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from core.training.callbacks import Callback, FitStart, FitSummary, RunView
from core.io.atomic import write_text_atomic

CONTROL_FILE = "control.json"
POLL_INTERVAL_S = 0.5


def control_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / CONTROL_FILE


def write_control(run_dir: str | os.PathLike, *, pause: bool, stop: bool = False) -> Path:
    """Atomically (temp + rename): a reader never sees half a file."""
    return write_text_atomic(control_path(run_dir), json.dumps({"pause": bool(pause), "stop": bool(stop),
                                                                "time": time.time()}))


def read_control(run_dir: str | os.PathLike) -> dict | None:
    """{"pause": bool | None, "stop": bool}, or None (no file, or not one we understand)."""
    try:
        value = json.loads(control_path(run_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    pause = value.get("pause")
    return {"pause": pause if isinstance(pause, bool) else None, "stop": value.get("stop") is True}


def read_pause(run_dir: str | os.PathLike) -> bool | None:
    """What the control file asks for: True (pause), False (run), None (no file, or not one we understand)."""
    control = read_control(run_dir)
    return control["pause"] if control else None


def remove_control(run_dir: str | os.PathLike) -> None:
    try:
        control_path(run_dir).unlink(missing_ok=True)
    except OSError:
        pass  # a read-only folder: a leftover file is cleared by the next run's start


class ControlWatch(Callback):
    """Applies RUN/control.json to the trainer of this process (the main one)."""

    def __init__(self, run_dir: str | os.PathLike, interval_s: float = POLL_INTERVAL_S):
        self.run_dir = Path(run_dir)
        self.interval_s = interval_s
        self._next_look = 0.0
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read

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
        control = read_control(self.run_dir) or {"pause": None, "stop": False}
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
                write_control(self.run_dir, pause=bool(control["pause"]))
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
