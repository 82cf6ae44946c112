"""Per-process status of a multi-process run: RUN/ranks/rank-N.json, one small file per process.

Only rank 0 writes metrics.jsonl and checkpoints; every process (rank 0 too) keeps its own status file fresh
(state: running / evaluating / paused, then stopped / done / error; step, pid, host, time) so a follower can show that each process is alive, and a process that fails
says why in its file before it exits.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from core.training.callbacks import BatchReport, Callback, EpochMetrics, FitStart, FitSummary, RunPoint, RunView
from core.io.atomic import write_text_atomic
from core.runs.heartbeat import Heartbeat, interval_from_env

RANKS_DIR = "ranks"


def rank_status_path(run_dir: str | os.PathLike, rank: int) -> Path:
    return Path(run_dir) / RANKS_DIR / f"rank-{rank}.json"


def read_rank_statuses(run_dir: str | os.PathLike) -> list[dict]:
    """Every readable rank file of a run, by rank (a torn or foreign file is skipped)."""
    out = []
    for path in sorted((Path(run_dir) / RANKS_DIR).glob("rank-*.json")):
        try:
            status = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(status, dict) and isinstance(status.get("rank"), int):
            out.append(status)
    return sorted(out, key=lambda s: s["rank"])


class RankStatus(Callback):
    def __init__(self, run_dir: str | os.PathLike, rank: int, world_size: int):
        self.path = rank_status_path(run_dir, rank)
        self.rank, self.world_size = rank, world_size
        self._heartbeat: Heartbeat | None = None
        self._step = 0
        self._epoch = 0

    def write(self, state: str, message: str | None = None) -> None:
        status = {"rank": self.rank, "world_size": self.world_size, "state": state, "step": self._step,
                  "epoch": self._epoch, "pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
        if message:
            status["message"] = message
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps(status))
        except OSError:
            pass  # a status file must never stop training

    def _finish(self, state: str, message: str | None = None) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        self.write(state, message)

    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        self._step, self._epoch = start.step, start.start_epoch + 1
        self.write("running")
        interval = interval_from_env(getattr(run.config, "heartbeat_s", 2.0))
        self._heartbeat = Heartbeat(lambda: self.write(self._state(run)), interval)
        self._heartbeat.start()

    @staticmethod
    def _state(run: RunView) -> str:
        if run.paused:
            return "paused"
        return "evaluating" if run.phase == "evaluating" else "running"

    def on_paused(self, run: RunView, at: RunPoint) -> None:
        self._step = at.step
        self.write("paused")  # at once: the app shows the pause without waiting for a heartbeat

    def on_resumed(self, run: RunView, at: RunPoint) -> None:
        if not run.stop_requested:
            self.write("running")

    def on_batch_end(self, run: RunView, report: BatchReport) -> None:
        self._step, self._epoch = report.step, report.epoch

    def on_epoch_end(self, run: RunView, metrics: EpochMetrics) -> None:
        self._step, self._epoch = metrics.step, metrics.epoch + 1

    def on_stopped(self, run: RunView, summary: FitSummary) -> None:
        self._finish("stopped")

    def on_fit_end(self, run: RunView, summary: FitSummary) -> None:
        self._finish("done")

    def on_error(self, run: RunView, error: BaseException) -> None:
        from core.errors import describe_failure

        self._finish("error", describe_failure(error) or f"{type(error).__name__}: {error}")
