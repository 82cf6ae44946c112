"""Watch a multi-process run the app started as a job (core.processes.job.TrainJob): every POLL_MS, on the GUI's
background-work primitive, read the run folder's new records (the same RunFollower as any followed run), each
process's status file (RUN/ranks/rank-N.json) and whether the launcher has exited. Pause and Resume write
the job's control file (RUN/control.json), also off the GUI thread.

The exit is checked before the records are read, so the poll that sees the exit also reads every record the
processes wrote before they ended: `exited(code)` comes after the last `recordsArrived`.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from core.runs.rank_status import rank_liveness
from gui.concurrent import BackgroundTask
from gui.training.live_follow import POLL_MS
from gui.training.run_control import RunControl


class JobWatch(QObject):
    recordsArrived = Signal(list)  # core.runs.records Records, oldest first
    ranksChanged = Signal(list)  # [{rank, state, step, epoch, pid, host, time, liveness}, ...] by rank
    exited = Signal(int)  # the launcher's exit status, after the last records
    message = Signal(str, str)  # (level, text)

    def __init__(self, job, parent: QObject | None = None, poll_ms: int = POLL_MS, heartbeat_s: float = 2.0):
        super().__init__(parent)
        self.job = job
        self.heartbeat_s = heartbeat_s
        self.ranks: list[dict] = []
        self.exit_code: int | None = None
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_polled)
        self._task.failed.connect(lambda text: self.message.emit("warning", f"Following {job.run_dir}: {text}"))
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)
        self._control = RunControl(self)
        self._control.message.connect(self.message)

    def start(self) -> None:
        self._timer.start()
        self._poll()

    def set_paused(self, pause: bool) -> None:
        """Ask every process of the job to pause (or go on) at its next step."""
        self._control.send(self.job.run_dir, pause=pause)

    def stop(self) -> None:
        """Stop watching (the job itself is not touched)."""
        self._timer.stop()
        self._task.cancel()

    def shutdown(self) -> None:
        self.stop()
        self._task.shutdown()
        self._control.shutdown()  # a control write in progress finishes

    @Slot()
    def _poll(self) -> None:
        if self._task.busy or self.exit_code is not None:  # one poll at a time: records must not be lost
            return
        job, heartbeat_s = self.job, self.heartbeat_s

        def poll(_ctx):
            code = job.process.poll()  # first: everything written before the exit is read below
            records = []
            while True:  # the follower reads at most max_read per call
                batch = job.follower.poll()
                records.extend(batch)
                if not batch or code is None:
                    break
            now = time.time()
            ranks = [{**s, "liveness": rank_liveness(s, now, heartbeat_s)} for s in job.ranks()]
            return records, job.follower.take_notices(), ranks, code

        self._task.submit(poll)

    @Slot(object)
    def _on_polled(self, result) -> None:
        records, notices, ranks, code = result
        for notice in notices:
            if notice.kind not in ("missing", "reappeared"):  # before the first record the file is not there yet
                self.message.emit("warning", notice.message)
        if records:
            self.recordsArrived.emit(records)
        if ranks != self.ranks:
            self.ranks = ranks
            self.ranksChanged.emit(ranks)
        if code is not None and self.exit_code is None:
            self.exit_code = code
            self._timer.stop()
            self.exited.emit(code)


class RankWatch(QObject):
    """Only the per-process statuses of a run folder (a job left running, followed again later): every
    POLL_MS on a BackgroundTask; nothing is emitted for a folder without RUN/ranks/."""

    ranksChanged = Signal(list)

    def __init__(self, parent: QObject | None = None, poll_ms: int = POLL_MS, heartbeat_s: float = 2.0):
        super().__init__(parent)
        self.folder = None
        self.heartbeat_s = heartbeat_s
        self.ranks: list[dict] = []
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_polled)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)

    def follow(self, folder) -> None:
        self.stop()
        self.folder = folder
        self._timer.start()
        self._poll()

    def stop(self) -> None:
        self._timer.stop()
        self._task.cancel()
        self.folder = None
        self.ranks = []

    def shutdown(self) -> None:
        self.stop()
        self._task.shutdown()

    @Slot()
    def _poll(self) -> None:
        folder, heartbeat_s = self.folder, self.heartbeat_s
        if folder is None or self._task.busy:
            return

        def poll(_ctx):
            from core.runs.rank_status import read_rank_statuses

            now = time.time()
            return folder, [{**s, "liveness": rank_liveness(s, now, heartbeat_s)} for s in read_rank_statuses(folder)]

        self._task.submit(poll)

    @Slot(object)
    def _on_polled(self, result) -> None:
        folder, ranks = result
        if folder is self.folder and ranks != self.ranks:
            self.ranks = ranks
            self.ranksChanged.emit(ranks)
