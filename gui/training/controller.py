"""The training controller: the run the Train tab shows, as a small state machine over one RunHandle.

    idle --start--> starting --(the run's first record)--> running <--pause / resume--> paused
    idle --follow--> (the followed folder's run is live) running / paused
    starting / running / paused --stop--> stopping --(the run ends)--> idle
    running / paused --(the run ends; a followed run: also when it goes quiet)--> idle

Every run this window starts runs in processes of its own (core.processes.job.TrainJob: `layerscope train
--settings S --out RUN`, 1 or N processes), launched off the GUI thread and followed through its run folder
(gui/training/run_handle.py), exactly as a run folder another process writes is followed. The window's Python
never runs the fit: training cannot take it down, and a run can outlive it (`leave`). What differs for a run
this window started is in the handle: its process ends it, and its weights reach the model hub at every epoch
end and when it stops, loaded from RUN/last.pt off the GUI thread. While a run is live, the hub can ask it for
a copy of its weights (`request_weights`: a snapshot the run writes at its next batch boundary).

This module imports no torch: the controller exists before the engine has loaded, so a run folder can be
followed at once.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from core.processes.job import STOP_CODES
from core.runs import layout
from core.runs.heartbeat import DEFAULT_INTERVAL_S
from gui.concurrent import BackgroundTask
from gui.model_hub import ModelHub, StoppedAt, TrainedEpoch
from core.runs.location import default_runs_root
from gui.training.run_handle import RunHandle

IDLE, STARTING, RUNNING, PAUSED, STOPPING = "idle", "starting", "running", "paused", "stopping"
LIVE_STATES = (STARTING, RUNNING, PAUSED, STOPPING)

# Batch reports at most 5 times a second: each one carries every step's loss since the last, so the plot
# loses nothing, and each costs a redraw in the window (benchmarks/training.py measures the trade).
REPORT_INTERVAL_S = 0.2
STATUS_WORDS = {"evaluating": "running (evaluating)",
                "interrupted": f"interrupted (its process is gone without a final record; it can go on from its "
                               f"{layout.LAST})"}
STARTING_TEXT = "Starting: the run's own process is loading PyTorch and the data…"


class TrainingController(QObject):
    stateChanged = Signal(str)
    runStarted = Signal(str)  # the run directory of a run this window started
    fitStarted = Signal(dict)  # that run's "start" record (epochs, batches_per_epoch, total_steps, device, ...)
    recordsArrived = Signal(list)  # core.runs.records Records, in batches, as the run writes them
    runFinished = Signal(dict)  # a started run's final record + "stopped" (True for a stopped run), "exit_code"
    runFailed = Signal(str)  # a message for the user
    message = Signal(str, str)  # (level, text) for the log panel
    ranksChanged = Signal(list)  # each process's status (a multi-process run)
    statusChanged = Signal(str)  # the shown run's status word changed (status_text() says it for people)
    settingsRead = Signal(object)  # a followed run's config.json (see RunHandle.settingsRead)
    restarted = Signal()  # a followed folder holds a new run: clear what the old one drew

    def __init__(self, hub: ModelHub, runs_root: str | Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.hub = hub
        self.runs_root = Path(runs_root) if runs_root is not None else default_runs_root()
        self.handle: RunHandle | None = None
        self.run_dir: Path | None = None  # this window's last started run
        self.last_exit: int | None = None  # how that run's process exited (130 / 143: stopped)
        self._state = IDLE
        self._own = False  # the shown run is one this window started
        self._stop_early = False  # Stop pressed while the run was being launched
        self._waiting: list = []  # live-weights requests made while the run was being launched
        self._launched: list = []  # the job the launch made (read at shutdown if its result never arrived)
        self._launch = BackgroundTask(self, imports=())
        self._launch.finished.connect(self._on_launched)
        self._launch.failed.connect(self._on_launch_failed)

    # ---- state ---------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def job(self):
        """The process(es) of this window's last run (a core.processes.job.TrainJob), None before its launch."""
        return self._launched[-1] if self._launched else None

    def is_active(self) -> bool:
        """A run this window started is going on (its process runs, or is being launched)."""
        return self._own and self._state != IDLE

    @property
    def following(self) -> bool:
        """The Train tab shows a run folder another process writes."""
        return self.handle is not None and not self.handle.owned

    def _set_state(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        # The hub may ask a live run for a copy of its weights: this window's run from its launch on (a request
        # made while it starts is answered before its first step), a followed run while it runs or is paused.
        live = state != IDLE if self._own else state in (RUNNING, PAUSED, STOPPING)
        if live and not self.hub.is_training():
            self.hub.attach_run(self)
        elif not live:
            self.hub.detach_run()
        self.stateChanged.emit(state)

    def status_text(self) -> str:
        """The shown run's state for people: starting, or a followed run's status."""
        if self._own:
            return STARTING_TEXT if self._state == STARTING else ""
        handle = self.handle
        if handle is None:
            return ""
        name = handle.folder.name or str(handle.folder)  # "." has no name
        if handle.status in ("", "waiting"):
            return f"Following {name}: waiting for the run to start in {handle.folder}"
        return f"Following {name}: {STATUS_WORDS.get(handle.status, handle.status)}"

    # ---- starting and following ----------------------------------------------------------------------
    def start(self, settings, resume: str | Path | None = None, run_dir: str | Path | None = None,
              finetune_from: str | Path | None = None, nproc: int = 1) -> bool:
        """Launch a run in its own process(es); False when one of this window's runs is active.
        run_dir: continue in this folder (a resume from its own last.pt appends to its records).
        finetune_from: a checkpoint whose weights the run starts from, with a fresh optimizer.
        nproc > 1: a multi-process run (a resume or a fine-tune takes one)."""
        if self.is_active():
            return False
        self._drop_handle()
        self._own, self._stop_early, self._launched = True, False, []
        self.run_dir = Path(run_dir) if run_dir is not None else None
        settings.train.report_interval_s = max(settings.train.report_interval_s, REPORT_INTERVAL_S)
        self._set_state(STARTING)
        root, launched = self.runs_root, self._launched

        def launch(_ctx):  # off the GUI thread: the folder, the settings file, the control file, the process
            from core.processes.job import TrainJob
            from core.runs.heartbeat import interval_from_env
            from core.runs.location import new_run_dir

            started_after = time.time()
            folder = Path(run_dir) if run_dir is not None else new_run_dir(root, settings.model_name, settings.data.name)
            job = TrainJob.start(settings, folder, nproc, resume=resume, finetune_from=finetune_from)
            launched.append(job)
            return job, started_after, interval_from_env(settings.train.heartbeat_s)

        self._launch.submit(launch)
        what = "Fine-tune" if finetune_from else ("Resume" if resume else "Run")
        self.message.emit("info", f"{what} starting: {settings.model_name} on {settings.data.name}, "
                                  f"{settings.train.epochs} epochs" + (f", {nproc} processes" if nproc > 1 else ""))
        return True

    @Slot(object)
    def _on_launched(self, result) -> None:
        job, started_after, heartbeat_s = result
        self.watch(job, started_after=started_after, heartbeat_s=heartbeat_s)
        self.message.emit("info", f"Run process started (pid {job.pid}); writing to {self.run_dir}")
        self.runStarted.emit(str(self.run_dir))
        if self._stop_early:
            self.handle.stop()

    def watch(self, job, *, started_after: float | None = None, heartbeat_s: float = DEFAULT_INTERVAL_S) -> None:
        """Show a run this window started (a core.processes.job.TrainJob) until its process exits.
        started_after: records older than this belong to an earlier run in the same folder (default: now)."""
        self._drop_handle()
        self._own, self._launched = True, [job]
        self.run_dir = job.run_dir
        if self._state == IDLE:
            self._set_state(STARTING)
        self._attach(RunHandle(job.run_dir, job, self, heartbeat_s=heartbeat_s, started_after=started_after))
        waiting, self._waiting = self._waiting, []
        for receive in waiting:
            self.handle.request_weights(receive)

    @Slot(str)
    def _on_launch_failed(self, text: str) -> None:
        self.message.emit("error", f"Could not start the run: {text}")
        self._waiting = []
        self._set_state(IDLE)
        self._own = False
        self.runFailed.emit(text)

    def follow(self, folder: str | Path) -> bool:
        """Show a run folder another process writes (it need not exist yet); False while a run of this window
        is active."""
        if self.is_active():
            return False
        self._drop_handle()
        self._own = False
        self._set_state(IDLE)  # until the folder's run is seen running
        self._attach(RunHandle(folder, None, self))
        return True

    def stop_following(self) -> Path | None:
        """Stop reading the followed folder (what it drew stays); returns the folder."""
        if not self.following:
            return None
        folder = self.handle.folder
        self._drop_handle()
        self._set_state(IDLE)
        return folder

    def _attach(self, handle: RunHandle) -> None:
        self.handle = handle
        handle.recordsArrived.connect(self._on_records)
        handle.weightsLoaded.connect(self._on_weights)
        handle.phaseChanged.connect(self._on_phase)
        handle.statusChanged.connect(self.statusChanged)
        handle.ranksChanged.connect(self.ranksChanged)
        handle.settingsRead.connect(self.settingsRead)
        handle.restarted.connect(self.restarted)
        handle.message.connect(self.message)
        handle.start()

    def _drop_handle(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.shutdown()
            handle.deleteLater()

    # ---- commands ------------------------------------------------------------------------------------
    def pause(self) -> None:
        if self._state == RUNNING and self.handle is not None:
            self.handle.pause()
            self._set_state(PAUSED)
            self.message.emit("info", self._asked("pause after its current step"))

    def resume(self) -> None:
        if self._state == PAUSED and self.handle is not None:
            self.handle.resume()
            self._set_state(RUNNING)
            self.message.emit("info", self._asked("go on"))

    def toggle_pause(self) -> None:
        if self._state == RUNNING:
            self.pause()
        elif self._state == PAUSED:
            self.resume()

    def stop(self) -> None:
        if self._state not in (STARTING, RUNNING, PAUSED) or (self.handle is None and not self._own):
            return
        if self.handle is None:
            self._stop_early = True  # still being launched: stopped as soon as it exists
        else:
            self.handle.stop()
        self._set_state(STOPPING)
        self.message.emit("info", self._asked(f"stop after its current batch and save {layout.LAST}"))

    def _asked(self, what: str) -> str:
        if self._own:
            return f"Asked the run to {what}"
        return f"Asked {self.handle.folder.name} to {what} (through its {layout.CONTROL})"

    def request_weights(self, receive) -> None:
        """The hub's WeightsSource: a copy of the live run's weights, taken at a batch boundary."""
        if self.handle is not None:
            self.handle.request_weights(receive)
        elif self._own and self._state != IDLE:
            self._waiting.append(receive)  # answered once the launched process exists

    # ---- what the run does ---------------------------------------------------------------------------
    @Slot(list)
    def _on_records(self, records: list) -> None:
        self.recordsArrived.emit(records)
        if self._own:
            for record in records:
                if record.get("kind") == "start" and self.handle.fresh(record):
                    self.fitStarted.emit(record)

    @Slot(object)
    def _on_weights(self, weights) -> None:
        """A started run's last.pt, weights only: at an epoch end, and at the exit of a stopped run."""
        stopped = weights.final and self.handle is not None and self.handle.exit_code != 0
        self.hub.set_checkpoint(weights.checkpoint, StoppedAt(weights.step) if stopped else TrainedEpoch(weights.epoch))

    @Slot(str)
    def _on_phase(self, phase: str) -> None:
        if phase == "ended":
            self._ended()
        elif phase == "starting":  # a followed folder waiting for its (next) run: nothing to pause or stop
            self._set_state(STARTING if self._own else IDLE)
        elif self._state != STOPPING:
            wanted = self.handle.pause_wanted
            paused = wanted if wanted is not None else phase == "paused"
            self._set_state(PAUSED if paused else RUNNING)

    def _ended(self) -> None:
        handle = self.handle
        if not handle.owned:
            self._set_state(IDLE)  # a followed run ended (or went quiet); its folder is still read
            return
        code, final = handle.exit_code, dict(handle.final or {})
        self.last_exit = code
        self._drop_handle()
        self._set_state(IDLE)
        self._own = False
        if code == 0 or code in STOP_CODES:
            self.message.emit("info", f"Saved in {self.run_dir}")
            self.runFinished.emit({**final, "stopped": code != 0, "exit_code": code, "run_dir": str(self.run_dir)})
        else:
            message = handle.failure or f"the training process exited with status {code}"
            self.message.emit("error", f"Training failed: {message}")
            self.runFailed.emit(message)

    # ---- closing -------------------------------------------------------------------------------------
    def leave(self) -> Path | None:
        """Stop watching this window's run and leave it running (its own process group); returns its folder."""
        if not self.is_active():
            return None
        self._launch.wait()  # a launch in flight finishes first; its result is not taken up
        self._launch.cancel()
        job = self.job
        self._drop_handle()
        self._set_state(IDLE)
        self._own = False
        if job is not None:
            self.message.emit("info", f"Left the run in {job.run_dir} running (pid {job.pid}); follow it again "
                                      f"from the Runs tab or with layerscope --follow {job.run_dir}")
        return job.run_dir if job is not None else None

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop this window's run and wait for its process (closing the window), and stop following. True when
        no process of it is left running (it saved last.pt and exited)."""
        self._launch.shutdown()
        job = self.job
        left_running = False
        if self.is_active() and job is not None:
            if self.handle is not None and self.handle.can_signal:
                self.handle.stop_by_file()  # its handlers are in: it may have its own SIGTERM already (a logout)
            else:
                job.stop()  # still loading (a signal ends it at once: nothing to save yet), or stopped already
            try:
                job.wait(timeout_ms / 1000)
            except Exception:  # subprocess.TimeoutExpired: it goes on by itself; say where it is
                left_running = self.leave() is not None
        self._drop_handle()
        self._set_state(IDLE)
        self._own = False
        return not left_running
