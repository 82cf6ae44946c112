"""Pause, resume and stop a run from outside its processes: RUN/control.json, {"pause": bool, "stop": bool}.

The app writes it atomically (core.processes.job.TrainJob.pause/resume, and the Train tab for a run it only
follows: a CLI run, a job started by an earlier session, a torchrun job on shared storage); the run's main process
(rank 0 of a multi-process run) watches it with `ControlWatch` (core.training.run_control), a callback that looks
at the file's mtime at most every `interval_s` seconds (one clock read per step otherwise, no stat per step) and
turns a change into `trainer.pause()` / `resume()` / `stop()`. Every rank then pauses or stops together through
the strategy's per-step agreement (core.training.trainer). A job the app started is stopped with a signal instead
(SIGINT to its launcher, which also reaches a process still loading); the file's stop is for runs it has no
process handle of. Commands are for the process that is running: a stop found when a run starts was meant for an
earlier one and is cleared, and a run that ends removes the file.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from core.io.atomic import write_text_atomic
from core.runs.layout import RunLayout

POLL_INTERVAL_S = 0.5


def control_path(run_dir: str | os.PathLike) -> Path:
    return RunLayout(run_dir).control


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
