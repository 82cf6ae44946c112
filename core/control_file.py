"""Pause and resume a run from outside its processes: RUN/control.json, {"pause": true|false}.

The app writes it atomically (core.train_job.TrainJob.pause/resume); the run's main process (rank 0 of a
multi-process run) watches it with `ControlWatch`, a callback that looks at the file's mtime at most every
`interval_s` seconds (one clock read per step otherwise, no stat per step) and turns a change into
`trainer.pause()` / `trainer.resume()`. Every rank then pauses together through the strategy's per-step
agreement (core.trainer). Stop is not here: it is a signal (SIGINT to the launcher).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from core.callbacks import Callback
from core.fileio import write_text_atomic

CONTROL_FILE = "control.json"
POLL_INTERVAL_S = 0.5


def control_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / CONTROL_FILE


def write_control(run_dir: str | os.PathLike, *, pause: bool) -> Path:
    """Atomically (temp + rename): a reader never sees half a file."""
    return write_text_atomic(control_path(run_dir), json.dumps({"pause": bool(pause), "time": time.time()}))


def read_pause(run_dir: str | os.PathLike) -> bool | None:
    """What the control file asks for: True (pause), False (run), None (no file, or not one we understand)."""
    try:
        value = json.loads(control_path(run_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pause = value.get("pause") if isinstance(value, dict) else None
    return pause if isinstance(pause, bool) else None


class ControlWatch(Callback):
    """Applies RUN/control.json to the trainer of this process (the main one)."""

    def __init__(self, run_dir: str | os.PathLike, interval_s: float = POLL_INTERVAL_S):
        self.run_dir = Path(run_dir)
        self.interval_s = interval_s
        self._next_look = 0.0
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read

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
        pause = read_pause(self.run_dir)
        if pause is True and not trainer.pause_wanted:
            trainer.pause()
        elif pause is False and trainer.pause_wanted:
            trainer.resume()

    def on_fit_start(self, trainer, info: dict) -> None:
        self.poll(trainer, force=True)  # a run started (or resumed) with the file saying pause starts paused

    def on_train_step(self, trainer) -> None:
        self.poll(trainer)

    def on_pause_wait(self, trainer) -> None:
        self.poll(trainer)
