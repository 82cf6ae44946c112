"""Follow a run folder that another process writes, in the Train tab: a core RunFollower polled on the
GUI's background-work primitive every POLL_MS, its new records sent on as one batch (the same records the
app's own run sends, so the plots, progress and log take one code path), and the run's state as a word.

The folder need not exist yet (`layerscope --follow DIR` before `layerscope train --out DIR`): each poll is
then one failed stat, and the run is read from its start once its metrics.jsonl appears. A folder deleted and
made again (or a metrics file truncated or replaced) is read from the new start: `restarted` says to clear
what the old one drew. The run's config.json is read when it appears or changes (`settingsRead`), for the
form to show that run's settings.

Pause, Resume and Stop reach a followed run through its control file (core.runs.control: RUN/control.json,
written off the GUI thread): the run's main process reads it between steps, so this works for a CLI run, a
job an earlier session started and a torchrun job on shared storage alike, without a process handle.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gui.concurrent import BackgroundTask
from gui.training.run_control import RunControl

POLL_MS = 300  # a record written shows within ~POLL_MS + one redraw (well within a second)
STATUS_WORDS = {"evaluating": "running (evaluating)"}
RESTART_NOTICES = ("reappeared", "replaced", "truncated")
CONTROLLABLE = ("running", "paused", "evaluating")  # a live run reads its control file  # the file is read again from its start


def read_config(folder: Path, seen_key):
    """(key, config) of the run folder's config.json when it is not the one seen (`seen_key`), else (seen_key,
    UNCHANGED). config: the dict, None when there is none, or a text saying why it cannot be used. A stat per
    call; the file is read only when it changed (written atomically: a new file each time)."""
    from core.runs.records import CONFIG_VERSION
    from core.runs.index import read_json_object
    from core.runs.layout import CONFIG as CONFIG_FILE

    path = folder / CONFIG_FILE
    try:
        st = os.stat(path)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    except FileNotFoundError:
        key = None
    except OSError as exc:
        key = ("unreadable", str(exc))
    if key == seen_key:
        return seen_key, UNCHANGED
    if key is None:
        return None, None
    try:
        config = read_json_object(path)
    except (OSError, ValueError) as exc:
        return key, f"Its settings cannot be shown: {exc}"
    version = config.get("version", 0)
    if isinstance(version, int) and version > CONFIG_VERSION:
        return key, (f"Its settings cannot be shown: {CONFIG_FILE} was written by a newer Layerscope (version "
                     f"{version}); update Layerscope")
    return key, config


UNCHANGED = object()


class RunWatch(QObject):
    recordsArrived = Signal(list)  # core.runs.records Records, oldest first
    settingsRead = Signal(object)  # the run's config.json: a dict, None (not there), or why it cannot be shown
    restarted = Signal()  # the file is read again from its start (a new run in a recreated folder): clear the view
    statusChanged = Signal(str)  # running / paused / evaluating / finished / stopped / failed / diverged / not responding
    message = Signal(str, str)  # (level, text) for the log: files replaced, garbage lines, ...

    def __init__(self, parent: QObject | None = None, poll_ms: int = POLL_MS):
        super().__init__(parent)
        self.folder: Path | None = None
        self.status = ""
        self._follower = None
        self._read_any = False
        self._config_key = None  # the config.json last read (see read_config)
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_polled)
        self._task.failed.connect(lambda text: self.message.emit("warning", f"Following {self.folder}: {text}"))
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)
        self._control = RunControl(self)
        self._control.message.connect(self.message)

    @property
    def active(self) -> bool:
        return self._follower is not None

    def controllable(self) -> bool:
        return self.folder is not None and self.status in CONTROLLABLE

    def send(self, *, pause: bool, stop: bool = False) -> None:
        """Ask the followed run to pause, go on or stop after its current step (RUN/control.json)."""
        if self.folder is not None:
            self._control.send(self.folder, pause=pause, stop=stop)

    def follow(self, folder: str | Path) -> None:
        """Read the run folder's records from the start, then whatever it appends."""
        from core.runs.follower import RunFollower

        self.stop()
        self.folder = Path(folder)
        self._follower = RunFollower(self.folder)
        self._read_any = False
        self._config_key = None
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
        self._control.shutdown()  # a control write in progress finishes

    @Slot()
    def _poll(self) -> None:
        follower, folder, config_key = self._follower, self.folder, self._config_key
        if follower is None or self._task.busy:  # one poll at a time: a superseded poll would lose records
            return

        def job(_ctx):
            records = follower.poll()
            config = read_config(folder, config_key)
            return follower, records, follower.take_notices(), follower.status(time.time()), config

        self._task.submit(job)

    @Slot(object)
    def _on_polled(self, result) -> None:
        follower, records, notices, status, (config_key, config) = result
        if follower is not self._follower:
            return
        if config is not UNCHANGED:
            self._config_key = config_key
            self.settingsRead.emit(config)
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
