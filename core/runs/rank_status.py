"""Per-process status of a multi-process run: RUN/ranks/rank-N.json, one small file per process.

Only rank 0 writes metrics.jsonl and checkpoints; every process (rank 0 too) keeps its own status file fresh
(state: running / evaluating / paused, then stopped / done / error; step, pid, host, time) so a follower can
show that each process is alive (rank_liveness), and a process that fails says why in its file before it exits.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from core.io.atomic import write_text_atomic
from core.runs.layout import RunLayout
from core.runs.records import RUNNING
from core.runs.reducer import FAILED, FINISHED, STOPPED, liveness

# What a process writes of itself: while it lives, running / evaluating / paused (the status words), then its
# last word: stopped, or one of these two (the file's own words since it began; rank_liveness translates).
DONE, ERROR = "done", "error"
LAST_WORDS = {STOPPED: STOPPED, DONE: FINISHED, ERROR: FAILED}


def rank_status_path(run_dir: str | os.PathLike, rank: int) -> Path:
    return RunLayout(run_dir).rank_status(rank)


def write_rank_status(run_dir: str | os.PathLike, rank: int, world_size: int, state: str, *, step: int, epoch: int,
                      message: str | None = None) -> None:
    """This process's status, written atomically; a failure to write is ignored (it must never stop training)."""
    status = {"rank": rank, "world_size": world_size, "state": state, "step": step, "epoch": epoch,
              "pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
    if message:
        status["message"] = message
    path = rank_status_path(run_dir, rank)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(status))
    except OSError:
        pass


def read_rank_statuses(run_dir: str | os.PathLike) -> list[dict]:
    """Every readable rank file of a run, by rank (a torn or foreign file is skipped)."""
    out = []
    for path in RunLayout(run_dir).rank_statuses():
        try:
            status = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(status, dict) and isinstance(status.get("rank"), int):
            out.append(status)
    return sorted(out, key=lambda s: s["rank"])


def rank_liveness(status: dict, now: float, heartbeat_s: float) -> str:
    """A process's status word (core.runs.reducer): its last word once it said one, else what it says it does
    while its file was written within the reducer's silence limit, else "not responding"."""
    state = status.get("state") or RUNNING
    if state in LAST_WORDS:
        return LAST_WORDS[state]
    stamp = status.get("time")
    heard = float(stamp) if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else None
    return liveness(heard, now, heartbeat_s, state)
