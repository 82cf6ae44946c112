"""Per-process status of a multi-process run: RUN/ranks/rank-N.json, one small file per process.

Only rank 0 writes metrics.jsonl and checkpoints; every process (rank 0 too) keeps its own status file fresh
(state: running / evaluating / paused, then stopped / done / error; step, pid, host, time) so a follower can show that each process is alive, and a process that fails
says why in its file before it exits.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from core.runs.layout import RunLayout


def rank_status_path(run_dir: str | os.PathLike, rank: int) -> Path:
    return RunLayout(run_dir).rank_status(rank)


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
