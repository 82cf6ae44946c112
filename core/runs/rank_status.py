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
from core.io.small_files import CAPS, Obj, SmallFileError, read_json
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
    try:  # ranks/ is made here, and never written through when it is a link (core.io.atomic)
        write_text_atomic(rank_status_path(run_dir, rank), json.dumps(status), inside=run_dir)
    except OSError:
        pass


MAX_RANK_FILES = 256  # read at most the lowest this many ranks: a shared folder may hold 20,000 files
_TEXT = 200  # characters kept of a rank file's text fields (a label, a tooltip)
STATUS_SCHEMA = Obj(required={"rank": int},
                    optional={"world_size": (int, type(None)), "state": (str, type(None)), "step": (int, type(None)),
                              "epoch": (int, type(None)), "pid": (int, type(None)), "host": (str, type(None)),
                              "time": (float, type(None)), "message": (str, type(None))})
STATUS_FIELDS = {*STATUS_SCHEMA.required, *STATUS_SCHEMA.optional}


def read_rank_statuses(run_dir: str | os.PathLike, limit: int = MAX_RANK_FILES) -> list[dict]:
    """The readable rank files of a run (at most `limit`, the lowest ranks), by rank. Each goes through the
    one small-file reader and a schema (a FIFO, a huge, deep or foreign file is skipped, never blocks), and its
    texts are cut short; what a view shows of them is plain text (gui/training/rank_strip.py)."""
    out = []
    for path in RunLayout(run_dir).rank_statuses(limit):
        try:
            status = read_json(path, max_bytes=CAPS["rank"], schema=STATUS_SCHEMA)
        except SmallFileError:
            continue
        out.append({k: v[:_TEXT] if isinstance(v, str) else v for k, v in status.items() if k in STATUS_FIELDS})
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
