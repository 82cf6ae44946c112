"""One handle on the run the Train tab shows: a run folder followed through its records, plus the process when
this window started the run (a core.processes.job.TrainJob of 1 or N processes). A job is a followed folder
with a process handle; everything else is the same.

One watcher: every POLL_MS, on the GUI's background-work primitive, one look at the run
(core.processes.watch.RunFolderWatch: new records, status, each process's status file, config.json, the exit,
last.pt after an epoch ends, RUN/live.pt when a snapshot is awaited), turned into signals in a fixed order:
records, weights, status, phase. One control path: pause, resume and a followed run's stop through the run's
control file (written off the GUI thread by gui/training/run_control.py), a started run's stop by SIGINT.

A pause is a lease (core.runs.control): while this window keeps the run paused it rewrites the file every
RENEW_S seconds, so a window that dies cannot leave the run paused for ever (it goes on LEASE_S after the last
renewal); a window that closes, or stops showing the run, releases its pause at once.

Live weights for the inspector (`request_weights`, the ModelHub's WeightsSource): SIGUSR1 to a single process
once its start record is read (no file is written, and it is seen at once), else a new snapshot number in
RUN/control.json (a job of N processes, a followed run, a run still starting). The run writes RUN/live.pt at
its next batch boundary; the handle looks every SNAPSHOT_POLL_MS meanwhile and loads it off the GUI thread.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from core.processes.watch import NOT_WANTED, UNCHANGED, RunFolderWatch
from core.runs.control import LEASE_S, RENEW_S
from core.runs.heartbeat import DEFAULT_INTERVAL_S
from gui.concurrent import BackgroundTask
from gui.training.run_control import RunControl

# A record written shows within ~POLL_MS (the plots redraw at the same pace: gui/training/plots.py). Each look
# costs the window CPU that a run training on the same cores lacks; the Runs tab looks as often.
POLL_MS = 500
SNAPSHOT_POLL_MS = 40  # while a snapshot is awaited: the answer shows this soon after the run writes it
SNAPSHOT_TIMEOUT_S = 15.0  # a run that does not answer (an older Layerscope, a read-only folder) is given up on
RESTART_NOTICES = ("reappeared", "replaced", "truncated")  # the file is read again from its start
WAITING_NOTICES = ("missing", "reappeared")  # before the first record: the file is not written yet


class RunHandle(QObject):
    recordsArrived = Signal(list)  # core.runs.records Records, oldest first
    weightsLoaded = Signal(object)  # core.processes.watch.RunWeights: last.pt after an epoch, or at the exit
    statusChanged = Signal(str)  # the follower's word: waiting / running / paused / evaluating / finished / ...
    phaseChanged = Signal(str)  # starting / running / paused / ended (a started run: ended = its process exited)
    ranksChanged = Signal(list)  # [{rank, state, step, epoch, pid, host, time, liveness}, ...] by rank
    settingsRead = Signal(object)  # the run's config.json: a dict, None (not there), or why it cannot be shown
    restarted = Signal()  # the file is read again from its start (a new run in a recreated folder)
    message = Signal(str, str)  # (level, text) for the log

    def __init__(self, folder: str | Path, job=None, parent: QObject | None = None, *, poll_ms: int = POLL_MS,
                 heartbeat_s: float = DEFAULT_INTERVAL_S, started_after: float | None = None):
        super().__init__(parent)
        self._watch = RunFolderWatch(folder, job, heartbeat_s=heartbeat_s, started_after=started_after)
        self.folder: Path = self._watch.folder
        self.job = job
        self.status = ""
        self.phase = "starting"
        self.ranks: list[dict] = []
        self.exit_code: int | None = None
        self.final: dict | None = None  # the run's final record, once it has one
        self.failure: str | None = None  # why its process failed
        self.pause_wanted: bool | None = None  # what this window asked (None: nothing: a followed run stays as it is)
        self._stop_wanted = False  # a followed run asked to stop (kept in every later control write)
        self._snapshot_number: int | None = None
        self._receivers: list = []  # live-weights requests waiting for the next snapshot
        self._snapshot_since = NOT_WANTED  # RUN/live.pt as it was when they asked
        self._snapshot_asked = 0.0
        self._snapshot_stamp = None  # RUN/live.pt as last seen
        self._can_signal = False
        self._read_any = False
        self._poll_ms = poll_ms
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_polled)
        self._task.failed.connect(lambda text: self.message.emit("warning", f"Following {self.folder}: {text}"))
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)
        self._control = RunControl(self)
        self._control.message.connect(self.message)
        self._renewal = QTimer(self)  # while this window keeps the run paused: its lease, renewed
        self._renewal.setInterval(int(RENEW_S * 1000))
        self._renewal.timeout.connect(self._write_control)

    @property
    def owned(self) -> bool:
        """This window started the run: it has its process (stop by signal, weights at each epoch, an exit)."""
        return self.job is not None

    @property
    def can_signal(self) -> bool:
        """This window's run has read its start record and not ended: its signal handlers and its control-file
        watch are in place."""
        return self._can_signal

    @property
    def live(self) -> bool:
        return self.phase in ("running", "paused")

    def fresh(self, record: dict) -> bool:
        """A record of this run, not of an earlier one in the same folder."""
        return (record.get("time") or 0.0) >= self._watch.started_after

    def start(self) -> None:
        self._timer.start()
        self._poll()

    # ---- control -------------------------------------------------------------------------------------
    def pause(self) -> None:
        self.pause_wanted = True
        self._write_control()
        self._renewal.start()

    def resume(self) -> None:
        self.pause_wanted = False
        self._renewal.stop()
        self._write_control()

    def stop(self) -> None:
        """After the current batch, saving last.pt: SIGINT to a process this window started (it also wakes a
        paused one and ends one still loading), else a stop in the run's control file."""
        if self.job is not None:
            self.job.stop()
            return
        self._stop_wanted = True
        self._write_control()

    def stop_by_file(self) -> None:
        """Stop through the control file, never a signal: for closing the app, when the run's process may have
        had a SIGTERM of its own already (a logout signals every process), for which a second signal means
        "abort without saving"."""
        self._stop_wanted = True
        self._write_control()

    def _write_control(self) -> None:
        leased = self.pause_wanted is True
        self._control.send(self.folder, pause=self.pause_wanted, stop=self._stop_wanted,
                           snapshot=self._snapshot_number, lease_s=LEASE_S if leased else None)

    # ---- live weights (the ModelHub's WeightsSource) -------------------------------------------------
    def request_weights(self, receive) -> None:
        """`receive(checkpoint, step)` on the GUI thread with a weights-only copy taken at a batch boundary
        (one snapshot answers every request made before it arrives)."""
        self._receivers.append(receive)
        if len(self._receivers) > 1:
            return
        self._snapshot_since, self._snapshot_asked = self._snapshot_stamp, time.monotonic()
        if not (self._can_signal and self.job.ask_snapshot()):
            self._snapshot_number = time.time_ns()  # new for each request: the run answers each number once
            self._write_control()
        self._timer.setInterval(SNAPSHOT_POLL_MS)

    def _answer(self, snapshot) -> None:
        receivers, self._receivers = self._receivers, []
        self._snapshot_since = NOT_WANTED
        self._timer.setInterval(self._poll_ms)
        if snapshot is not None:
            for receive in receivers:
                receive(*snapshot)

    # ---- watching ------------------------------------------------------------------------------------
    @Slot()
    def _poll(self) -> None:
        if self._task.busy:  # one look at a time: a superseded one would lose records
            return
        watch, since = self._watch, self._snapshot_since if self._receivers else NOT_WANTED
        self._task.submit(lambda _ctx: watch.poll(snapshot_since=since))

    @Slot(object)
    def _on_polled(self, look) -> None:
        self._can_signal = look.can_signal
        self._snapshot_stamp = look.snapshot_stamp
        if look.exit_code is not None:
            self.exit_code, self._can_signal = look.exit_code, False
            self._timer.stop()  # the process is gone: its folder says nothing more
        self.final, self.failure = look.final or self.final, look.failure or self.failure
        self._report_notices(look.notices)
        if look.config is not UNCHANGED:
            self.settingsRead.emit(look.config)
        if look.records:
            self._read_any = True
            self.recordsArrived.emit(look.records)
        if look.weights is not None:
            self.weightsLoaded.emit(look.weights)
        if look.ranks != self.ranks:
            self.ranks = look.ranks
            self.ranksChanged.emit(look.ranks)
        self._after_snapshot_look(look)
        if look.status != self.status:
            self.status = look.status
            self.statusChanged.emit(look.status)
        if look.phase != self.phase:
            self.phase = look.phase
            if look.phase == "ended":
                self._renewal.stop()  # nothing left to keep paused
                if self._receivers:
                    self._answer(None)  # no snapshot comes from a run that has ended
            self.phaseChanged.emit(look.phase)

    def _report_notices(self, notices) -> None:
        for notice in notices:
            if self._read_any or notice.kind not in WAITING_NOTICES:
                self.message.emit("warning", notice.message)
        if self._read_any and any(n.kind in RESTART_NOTICES for n in notices):
            self._read_any = False  # a recreated folder's run: "missing" before its first record is waiting again
            self.restarted.emit()

    def _after_snapshot_look(self, look) -> None:
        if not self._receivers:
            return
        if look.snapshot is not None:
            self._answer(look.snapshot)
        elif time.monotonic() - self._snapshot_asked > SNAPSHOT_TIMEOUT_S:
            self.message.emit("warning", f"{self.folder.name} did not send a copy of its weights within "
                                         f"{SNAPSHOT_TIMEOUT_S:.0f} s (a run of an older Layerscope, or a folder "
                                         "this window cannot write to)")
            self._answer(None)

    # ---- the end -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop looking (the run itself goes on, un-paused if this window had paused it); a look in flight is
        dropped."""
        self._timer.stop()
        self._task.cancel()
        self._receivers = []
        self._renewal.stop()
        if self.pause_wanted and self._may_still_run():
            self.pause_wanted = False
            self._write_control()
            self.message.emit("info", f"{self.folder.name}: released this window's pause; the run goes on")

    def _may_still_run(self) -> bool:
        if self.job is not None:
            return self.job.running
        return self.live

    def shutdown(self) -> None:
        self.close()
        self._task.shutdown()
        self._control.shutdown(finish_writes=True)  # the last word (a stop, a pause released) is written
