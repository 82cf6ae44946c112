"""Pause, resume and stop a run from outside its processes, and ask it for a copy of its live weights:
RUN/control.json, {"pause": bool | null, "stop": bool, "snapshot": int}.

The app writes it atomically (core.processes.job.TrainJob.pause/resume, and the Train tab for a run it only
follows: a CLI run, a job started by an earlier session, a torchrun job on shared storage); the run's main
process (rank 0 of a multi-process run) watches it with `ControlWatch`, a callback that looks at the file's
mtime at most every `interval_s` seconds (one clock read per step otherwise, no stat per step) and turns a
change into `trainer.pause()` / `resume()` / `stop()`. Every rank then pauses or stops together through the
strategy's per-step agreement (core.training.trainer). A job the app started is stopped with a signal instead (SIGINT
to its launcher, which also reaches a process still loading); the file's stop is for runs it has no process
handle of. Commands are for the process that is running: a stop found when a run starts was meant for an
earlier one and is cleared, and a run that ends removes the file.

"pause": null is no opinion (a snapshot request from a window that does not know whether the run is paused).
"snapshot" is a number the asker makes new for each request: a number not seen before asks the run for a
weights-only copy of its model at its next batch boundary, written to RUN/live.pt (core.training.live_snapshot;
the app's own single-process run is asked with SIGUSR1 instead, which needs no file write and is seen at once).
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Callable

from core.training.callbacks import Callback
from core.io.atomic import write_text_atomic

CONTROL_FILE = "control.json"
SNAPSHOT_FILE = "live.pt"  # the answer to a snapshot request: the live model's weights, no training state
SNAPSHOT_SIGNAL = signal.SIGUSR1  # the same request, sent to the process itself
SNAPSHOT_STEP = "snapshot_step"  # the field of live.pt's metrics that says at which step it was taken
POLL_INTERVAL_S = 0.5


def control_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / CONTROL_FILE


def write_control(run_dir: str | os.PathLike, *, pause: bool | None, stop: bool = False,
                  snapshot: int | None = None) -> Path:
    """Atomically (temp + rename): a reader never sees half a file. pause None: leave the run as it is."""
    body = {"pause": None if pause is None else bool(pause), "stop": bool(stop), "time": time.time()}
    if snapshot is not None:
        body["snapshot"] = int(snapshot)
    return write_text_atomic(control_path(run_dir), json.dumps(body))


def read_control(run_dir: str | os.PathLike) -> dict | None:
    """{"pause": bool | None, "stop": bool, "snapshot": int | None}, or None (no file, or not one we understand)."""
    try:
        value = json.loads(control_path(run_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    pause, snapshot = value.get("pause"), value.get("snapshot")
    return {"pause": pause if isinstance(pause, bool) else None, "stop": value.get("stop") is True,
            "snapshot": snapshot if isinstance(snapshot, int) and not isinstance(snapshot, bool) else None}


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

    def poll(self, trainer, *, force: bool = False) -> None:
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
            trainer.stop()
        elif control["pause"] is True and not trainer.pause_wanted:
            trainer.pause()
        elif control["pause"] is False and trainer.pause_wanted:
            trainer.resume()

    def on_fit_start(self, trainer, info: dict) -> None:
        control = read_control(self.run_dir)
        if control and control["stop"]:  # meant for an earlier process of this run (it ended before reading it)
            try:
                write_control(self.run_dir, pause=control["pause"], snapshot=control["snapshot"])
            except OSError:
                pass
        self.poll(trainer, force=True)  # a run started (or resumed) with the file saying pause starts paused

    def _ended(self, trainer, _info=None) -> None:
        remove_control(self.run_dir)

    on_fit_end = on_stopped = on_error = _ended

    def on_train_step(self, trainer) -> None:
        self.poll(trainer)

    def on_pause_wait(self, trainer) -> None:
        self.poll(trainer)
