"""RankStatus: the callback that keeps this process's RUN/ranks/rank-N.json (core.runs.rank_status) fresh in a
multi-process run."""
from __future__ import annotations

import os

from core.runs.heartbeat import Heartbeat, interval_from_env
from core.runs.rank_status import DONE, ERROR, write_rank_status
from core.runs.records import EVALUATING, PAUSED, RUNNING
from core.runs.reducer import STOPPED
from core.training.callbacks import BatchReport, Callback, EpochMetrics, FitStart, FitSummary, RunPoint, RunView


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

    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        self._step, self._epoch = start.step, start.start_epoch + 1
        self.write(RUNNING)
        interval = interval_from_env(getattr(run.config, "heartbeat_s", 2.0))
        self._heartbeat = Heartbeat(lambda: self.write(self._state(run)), interval)
        self._heartbeat.start()

    @staticmethod
    def _state(run: RunView) -> str:
        if run.paused:
            return PAUSED
        return EVALUATING if run.phase == "evaluating" else RUNNING

    def on_paused(self, run: RunView, at: RunPoint) -> None:
        self._step = at.step
        self.write(PAUSED)  # at once: the app shows the pause without waiting for a heartbeat

    def on_resumed(self, run: RunView, at: RunPoint) -> None:
        if not run.stop_requested:
            self.write(RUNNING)

    def on_batch_end(self, run: RunView, report: BatchReport) -> None:
        self._step, self._epoch = report.step, report.epoch

    def on_epoch_end(self, run: RunView, metrics: EpochMetrics) -> None:
        self._step, self._epoch = metrics.step, metrics.epoch + 1

    def on_stopped(self, run: RunView, summary: FitSummary) -> None:
        self._finish(STOPPED)

    def on_fit_end(self, run: RunView, summary: FitSummary) -> None:
        self._finish(DONE)

    def on_error(self, run: RunView, error: BaseException) -> None:
        from core.errors import describe_failure

        self._finish(ERROR, describe_failure(error) or f"{type(error).__name__}: {error}")
