"""Pause, resume and stop a run from outside its processes, and ask it for a copy of its live weights:
RUN/control.json, {"pause": bool | null, "stop": bool, "snapshot": int}.

The app writes it atomically (core.processes.job.TrainJob.pause/resume, and the Train tab for a run it only
follows: a CLI run, a job started by an earlier session, a torchrun job on shared storage); the run's main process
(rank 0 of a multi-process run) watches it with `ControlWatch` (core.training.run_control), a callback that looks
at the file's mtime at most every `interval_s` seconds (one clock read per step otherwise, no stat per step) and
turns a change into the run's `pause()` / `resume()` / `stop()`. Every rank then pauses or stops together through
the strategy's per-step agreement (core.training.trainer). A job the app started is stopped with a signal instead
(SIGINT to its launcher, which also reaches a process still loading); the file's stop is for runs it has no
process handle of. Commands are for the process that is running: a stop found when a run starts was meant for an
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

from core.io.atomic import write_text_atomic
from core.runs.layout import LIVE, RunLayout

SNAPSHOT_FILE = LIVE  # the answer to a snapshot request (core.runs.layout)
SNAPSHOT_SIGNAL = signal.SIGUSR1  # the same request, sent to the process itself
SNAPSHOT_STEP = "snapshot_step"  # the field of live.pt's metrics that says at which step it was taken
POLL_INTERVAL_S = 0.5


def control_path(run_dir: str | os.PathLike) -> Path:
    return RunLayout(run_dir).control


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
