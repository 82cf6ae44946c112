"""Follow a run folder that another process writes, in the Train tab: a core RunFollower polled on the
GUI's background-work primitive every POLL_MS, its new records sent on as one batch (the same records the
app's own run sends, so the plots, progress and log take one code path), and the run's state as a word.

The folder need not exist yet (`layerscope --follow DIR` before `layerscope train --out DIR`): each poll is
then one failed stat, and the run is read from its start once its metrics.jsonl appears. A folder deleted and
made again (or a metrics file truncated or replaced) is read from the new start: `restarted` says to clear
what the old one drew.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gui.concurrent import BackgroundTask

POLL_MS = 300  # a record written shows within ~POLL_MS + one redraw (well within a second)
STATUS_WORDS = {"evaluating": "running (evaluating)"}
RESTART_NOTICES = ("reappeared", "replaced", "truncated")  # the file is read again from its start


class RunWatch(QObject):
    recordsArrived = Signal(list)  # core.records Records, oldest first
    restarted = Signal()  # the file is read again from its start (a new run in a recreated folder): clear the view
    statusChanged = Signal(str)  # running / paused / evaluating / finished / stopped / failed / diverged / not responding
    message = Signal(str, str)  # (level, text) for the log: files replaced, garbage lines, ...

    def __init__(self, parent: QObject | None = None, poll_ms: int = POLL_MS):
        super().__init__(parent)
        self.folder: Path | None = None
        self.status = ""
        self._follower = None
        self._read_any = False
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_polled)
        self._task.failed.connect(lambda text: self.message.emit("warning", f"Following {self.folder}: {text}"))
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)

    @property
    def active(self) -> bool:
        return self._follower is not None

    def follow(self, folder: str | Path) -> None:
        """Read the run folder's records from the start, then whatever it appends."""
        from core.follow import RunFollower

        self.stop()
        self.folder = Path(folder)
        self._follower = RunFollower(self.folder)
        self._read_any = False
        self._set_status("waiting")
        self._timer.start()
        self._poll()

    def stop(self) -> None:
        self._timer.stop()
        self._task.cancel()  # a poll in flight belongs to the old follower: its records are dropped
        self._follower = None
        self.folder = None
        self.status = ""

    def shutdown(self) -> None:
        self.stop()
        self._task.shutdown()

    @Slot()
    def _poll(self) -> None:
        follower = self._follower
        if follower is None or self._task.busy:  # one poll at a time: a superseded poll would lose records
            return

        def job(_ctx):
            records = follower.poll()
            return follower, records, follower.take_notices(), follower.status(time.time())

        self._task.submit(job)

    @Slot(object)
    def _on_polled(self, result) -> None:
        follower, records, notices, status = result
        if follower is not self._follower:
            return
        for notice in notices:
            # Before its first record the file is simply not written yet: that is "waiting", not "gone".
            if self._read_any or notice.kind not in ("missing", "reappeared"):
                self.message.emit("warning", notice.message)
        if self._read_any and any(n.kind in RESTART_NOTICES for n in notices):
            self._read_any = False  # a recreated folder's run: "missing" before its first record is waiting again
            self.restarted.emit()
        if records:
            self._read_any = True
            self.recordsArrived.emit(records)
        self._set_status(status)

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.statusChanged.emit(status)

    def status_text(self) -> str:
        if self.folder is None:
            return ""
        if self.status == "waiting":
            return f"Following {self.folder.name}: waiting for the run to start in {self.folder}"
        return f"Following {self.folder.name}: {STATUS_WORDS.get(self.status, self.status)}"
