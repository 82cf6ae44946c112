"""RankStatus: the callback that keeps this process's RUN/ranks/rank-N.json (core.runs.rank_status) fresh in a
multi-process run."""
from __future__ import annotations

import json
import os
import socket
import time

from core.io.atomic import write_text_atomic
from core.runs.heartbeat import Heartbeat, interval_from_env
from core.runs.rank_status import rank_status_path
from core.training.callbacks import Callback


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

    def on_fit_start(self, trainer, info: dict) -> None:
        self._step, self._epoch = info.get("step", 0), info["start_epoch"] + 1
        self.write("running")
        interval = interval_from_env(getattr(trainer.config, "heartbeat_s", 2.0))
        self._heartbeat = Heartbeat(lambda: self.write(self._state(trainer)), interval)
        self._heartbeat.start()

    @staticmethod
    def _state(trainer) -> str:
        if trainer.paused:
            return "paused"
        return "evaluating" if trainer.phase == "evaluating" else "running"

    def on_paused(self, trainer, info: dict) -> None:
        self._step = info.get("step", self._step)
        self.write("paused")  # at once: the app shows the pause without waiting for a heartbeat

    def on_resumed(self, trainer, info: dict) -> None:
        if not trainer.stop_requested:
            self.write("running")

    def on_batch_end(self, trainer, report) -> None:
        self._step, self._epoch = report.step, report.epoch

    def on_epoch_end(self, trainer, metrics) -> None:
        self._step, self._epoch = metrics.step, metrics.epoch + 1

    def on_stopped(self, trainer, summary: dict) -> None:
        self._finish("stopped")

    def on_fit_end(self, trainer, summary: dict) -> None:
        self._finish("done")

    def on_error(self, trainer, error: BaseException) -> None:
        from core.errors import describe_failure

        self._finish("error", describe_failure(error) or f"{type(error).__name__}: {error}")
