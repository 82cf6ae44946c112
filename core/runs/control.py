"""Pause, resume and stop a run from outside its processes, and ask it for a copy of its live weights:
RUN/control.json, {"pause": bool | null, "stop": bool, "snapshot": int, "time": when, "by": who, "lease_s": S}.

The app writes it atomically (core.processes.job.TrainJob.pause/resume, and the Train tab for a run it only
follows: a CLI run, a job started by an earlier session, a torchrun job on shared storage); the run's main process
(rank 0 of a multi-process run) watches it with `ControlWatch` (core.training.run_control), a callback that looks
at the file's mtime at most every `interval_s` seconds (one clock read per step otherwise, no stat per step) and
turns a change into the run's `pause()` / `resume()` / `stop()`. Every rank then pauses or stops together through
the strategy's per-step agreement (core.training.trainer). A job the app started is stopped with a signal instead
(SIGINT to its launcher, which also reaches a process still loading); the file's stop is for runs it has no
process handle of. Commands are for the process that is running: a stop found when a run starts was meant for an
earlier one and is cleared, so is a pause written before the run's processes started (a pause left by a window
that followed the run before it ended must not hold its `--resume` for ever), and a run that ends removes the
file. A run that pauses says so, naming who asked (`by`) and when.

"pause": null is no opinion (a snapshot request from a window that does not know whether the run is paused).
"snapshot" is a number the asker makes new for each request: a number not seen before asks the run for a
weights-only copy of its model at its next batch boundary, written to RUN/live.pt (core.training.live_snapshot;
the app's own single-process run is asked with SIGUSR1 instead, which needs no file write and is seen at once).

A pause written by a follower is a LEASE: it says who holds it ("by") and for how long ("lease_s"), and the
follower rewrites the file every RENEW_S seconds while it keeps the run paused. The run goes on by itself when
the file has not been rewritten for lease_s seconds by its own clock (a window that crashed, was killed or lost
its mount cannot leave a run paused for ever), and says so. A pause without "lease_s" (a file written by hand,
a job's own app) holds until the file changes.
"""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import time
from pathlib import Path

from core.io.atomic import write_text_atomic
from core.io.small_files import CAPS, SmallFileError, read_json
from core.runs.layout import LIVE, RunLayout

SNAPSHOT_FILE = LIVE  # the answer to a snapshot request (core.runs.layout)
SNAPSHOT_SIGNAL = signal.SIGUSR1  # the same request, sent to the process itself
SNAPSHOT_STEP = "snapshot_step"  # the field of live.pt's metrics that says at which step it was taken
POLL_INTERVAL_S = 0.5
STARTED_ENV = "LAYERSCOPE_RUN_STARTED"  # when the run's processes were started (process_started_at)
_IMPORTED_AT = time.time()
LEASE_S = 30.0  # a follower's pause lapses when it has not been renewed for this long
RENEW_S = 5.0  # how often a follower rewrites its pause while it holds the run paused


def control_path(run_dir: str | os.PathLike) -> Path:
    return RunLayout(run_dir).control


def who_asks() -> str:
    """Who writes a control file, as the run says it when it pauses: this process and its host."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


def write_control(run_dir: str | os.PathLike, *, pause: bool | None, stop: bool = False,
                  snapshot: int | None = None, by: str | None = None, lease_s: float | None = None) -> Path:
    """Atomically (temp + rename): a reader never sees half a file, and never through a link (the run folder
    may be shared). pause None: leave the run as it is. `by`: who asks, said by the run when it pauses
    (default: this process, who_asks()); `time` says when, so a run never obeys a pause older than itself.
    lease_s: a pause that lapses unless the file is rewritten within that many seconds."""
    body = {"pause": None if pause is None else bool(pause), "stop": bool(stop), "time": time.time(),
            "by": by or who_asks()}
    if snapshot is not None:
        body["snapshot"] = int(snapshot)
    if pause and lease_s is not None:
        body["lease_s"] = float(lease_s)
    return write_text_atomic(control_path(run_dir), json.dumps(body), inside=run_dir)


def read_control(run_dir: str | os.PathLike) -> dict | None:
    """{"pause": bool | None, "stop": bool, "snapshot": int | None, "time": float | None, "by": str,
    "lease_s": float | None}, or None
    (no file, or not one we understand). Read by the one small-file reader: the run folder may be shared, and a
    FIFO, a link, a huge or deeply nested file planted as control.json is no command (and never blocks)."""
    try:
        value = read_json(control_path(run_dir), max_bytes=CAPS["control"], no_link=True, schema=dict)
    except SmallFileError:
        return None
    pause, snapshot, stamp, by = value.get("pause"), value.get("snapshot"), value.get("time"), value.get("by")
    return {"pause": pause if isinstance(pause, bool) else None, "stop": value.get("stop") is True,
            "snapshot": snapshot if isinstance(snapshot, int) and not isinstance(snapshot, bool) else None,
            "time": float(stamp) if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else None,
            "by": by[:200] if isinstance(by, str) else "", "lease_s": _positive(value.get("lease_s"))}


def _positive(value) -> float | None:
    """A positive finite number of a file that may be anyone's, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def process_started_at() -> float:
    """When this run's processes began (Unix time): STARTED_ENV when whoever started them set it (the app's
    job, the launcher of a multi-process run: their children start later than the run), else this process's
    own start from /proc (to about a second), else when this module was imported."""
    try:
        return float(os.environ[STARTED_ENV])
    except (KeyError, ValueError):
        pass
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime, in clock ticks after boot
        with open("/proc/stat", encoding="ascii") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT


def read_pause(run_dir: str | os.PathLike) -> bool | None:
    """What the control file asks for: True (pause), False (run), None (no file, or not one we understand)."""
    control = read_control(run_dir)
    return control["pause"] if control else None


def remove_control(run_dir: str | os.PathLike) -> None:
    try:
        control_path(run_dir).unlink(missing_ok=True)
    except OSError:
        pass  # a read-only folder: a leftover file is cleared by the next run's start
