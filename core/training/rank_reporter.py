"""RankStatus: the callback that keeps this process's RUN/ranks/rank-N.json (core.runs.rank_status) fresh in a
multi-process run."""
from __future__ import annotations

import os

from core.runs.heartbeat import Heartbeat, interval_from_env
from core.runs.rank_status import DONE, ERROR, write_rank_status
from core.runs.records import EVALUATING, PAUSED, RUNNING
from core.runs.reducer import STOPPED
from core.training.callbacks import Callback


class RankStatus(Callback):
    def __init__(self, run_dir: str | os.PathLike, rank: int, world_size: int):
        self.run_dir = run_dir
        self.rank, self.world_size = rank, world_size
        self._heartbeat: Heartbeat | None = None
        self._step = 0
        self._epoch = 0

    def write(self, state: str, message: str | None = None) -> None:
        write_rank_status(self.run_dir, self.rank, self.world_size, state, step=self._step, epoch=self._epoch,
                          message=message)

    def _finish(self, state: str, message: str | None = None) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        self.write(state, message)

    def on_fit_start(self, trainer, info: dict) -> None:
        self._step, self._epoch = info.get("step", 0), info["start_epoch"] + 1
        self.write(RUNNING)
        interval = interval_from_env(getattr(trainer.config, "heartbeat_s", 2.0))
        self._heartbeat = Heartbeat(lambda: self.write(self._state(trainer)), interval)
        self._heartbeat.start()

    @staticmethod
    def _state(trainer) -> str:
        if trainer.paused:
            return PAUSED
        return EVALUATING if trainer.phase == "evaluating" else RUNNING

    def on_paused(self, trainer, info: dict) -> None:
        self._step = info.get("step", self._step)
        self.write(PAUSED)  # at once: the app shows the pause without waiting for a heartbeat

    def on_resumed(self, trainer, info: dict) -> None:
        if not trainer.stop_requested:
            self.write(RUNNING)

    def on_batch_end(self, trainer, report) -> None:
        self._step, self._epoch = report.step, report.epoch

    def on_epoch_end(self, trainer, metrics) -> None:
        self._step, self._epoch = metrics.step, metrics.epoch + 1

    def on_stopped(self, trainer, summary: dict) -> None:
        self._finish(STOPPED)

    def on_fit_end(self, trainer, summary: dict) -> None:
        self._finish(DONE)

    def on_error(self, trainer, error: BaseException) -> None:
        from core.errors import describe_failure

        self._finish(ERROR, describe_failure(error) or f"{type(error).__name__}: {error}")
