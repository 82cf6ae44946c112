"""The training controller: owns one worker and its QThread at a time, and the run's state machine.

    idle --start--> running --pause--> paused --resume--> running
    running/paused --stop--> stopping --(worker done)--> idle
    running --(fit ends or fails)--> idle

A run of N > 1 processes is a job instead (core.processes.job.TrainJob: `layerscope train --nproc N` in its own
process group), followed through its run folder (gui/training/job_watch.py) into the same records path. Pause
and Resume write its control file (RUN/control.json; every process pauses at the same step); Stop sends SIGINT
to its launcher, which forwards it to every process, paused or not. `leave_job()` stops
watching and leaves the job running (closing the window); it can be followed again from its run folder.

The GUI talks to the engine only through the worker's thread-safe stop/pause/resume/request_weights. Every run writes a run
directory under the runs root (metrics.jsonl, last.pt, best.pt). At every epoch end and when a run stops, the
hub gets a weights-only copy of the model, so the inspector always shows the latest one.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from core.training.session import RunSettings
from gui.model_hub import ModelHub
from core.runs import layout
from core.runs.location import default_runs_root, new_run_dir
from gui.training.worker import TrainingWorker

IDLE, RUNNING, PAUSED, STOPPING = "idle", "running", "paused", "stopping"

# Batch reports at most 5 times a second: each one carries every step's loss since the last, so the plot
# loses nothing, and each costs a repaint on the GUI thread (benchmarks/training.py measures the trade).
REPORT_INTERVAL_S = 0.2
STOP_CODES = (130, 143)  # a job stopped by SIGINT / SIGTERM


class TrainingController(QObject):
    stateChanged = Signal(str)
    runStarted = Signal(str)  # the run directory
    fitStarted = Signal(dict)  # the run's "start" record (epochs, batches_per_epoch, total_steps, device, ...)
    recordsArrived = Signal(list)  # core.runs.records Records, in batches, as the run writes them
    runFinished = Signal(dict)  # the fit summary; "stopped" is True for a stopped run
    runFailed = Signal(str)  # a message for the user
    message = Signal(str, str)  # (level, text) for the log panel
    ranksChanged = Signal(list)  # a job's per-process statuses (gui/training/job_watch.py)

    def __init__(self, hub: ModelHub, runs_root: str | Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.hub = hub
        self.runs_root = Path(runs_root) if runs_root is not None else default_runs_root()
        self._state = IDLE
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self.job = None  # a running core.processes.job.TrainJob (multi-process run)
        self._job_watch = None
        self.last_job_exit: int | None = None  # the last job's exit status (130/143 when stopped)
        self.run_dir: Path | None = None

    # ---- state ---------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def is_active(self) -> bool:
        return self._state != IDLE

    def job_running(self) -> bool:
        return self.job is not None and self.job.running

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    # ---- commands ------------------------------------------------------------------------------------
    def start(self, settings: RunSettings, resume: str | Path | None = None,
              run_dir: str | Path | None = None, finetune_from: str | Path | None = None,
              nproc: int = 1) -> Path | None:
        """Start a run on a fresh worker thread; returns its run directory (None if a run is active).
        run_dir: continue in this folder (a resume from its own last.pt appends to its records).
        finetune_from: a checkpoint whose weights the run starts from, with a fresh optimizer.
        nproc > 1: a multi-process job (not for a fine-tune, which runs here)."""
        if self._state != IDLE:
            return None
        self.run_dir = Path(run_dir) if run_dir is not None else new_run_dir(self.runs_root, settings.model_name,
                                                                              settings.data.name)
        settings.train.report_interval_s = max(settings.train.report_interval_s, REPORT_INTERVAL_S)
        if nproc > 1 and finetune_from is None:
            return self._start_job(settings, nproc, resume)
        worker = TrainingWorker(settings, self.run_dir, resume, finetune_from)
        thread = QThread()
        thread.setObjectName("layerscope-training")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.recordsReady.connect(self._on_records)
        worker.checkpointReady.connect(self._on_checkpoint)
        worker.fitFinished.connect(self._on_fit_finished)
        worker.failed.connect(self._on_failed)
        # Direct: quit() is thread-safe, and a queued call would never run while shutdown() blocks in wait().
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._cleanup)
        self._worker, self._thread = worker, thread
        self._set_state(RUNNING)
        self.hub.attach_run(worker)  # only its thread-safe request_weights: never the Trainer
        self.message.emit("info", f"Run started: {settings.model_name} on {settings.data.name}, "
                                  f"{settings.train.epochs} epochs; writing to {self.run_dir}")
        self.runStarted.emit(str(self.run_dir))
        thread.start()
        return self.run_dir

    def _start_job(self, settings: RunSettings, nproc: int, resume) -> Path | None:
        from core.runs.heartbeat import interval_from_env
        from core.processes.job import TrainJob

        extra = ("--resume", str(resume)) if resume is not None else ()
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with open(layout.RunLayout(self.run_dir).launcher_log, "ab") as log:  # the launcher's and processes' own output
                job = TrainJob.start(settings, self.run_dir, nproc, extra_args=extra, log=log)
        except OSError as exc:
            self.message.emit("error", f"Cannot start the {nproc}-process run in {self.run_dir}: {exc.strerror or exc}")
            self.runFailed.emit(str(exc))
            return None
        self.message.emit("info", f"Run started as {nproc} processes (pid {job.process.pid}): {settings.model_name} "
                                  f"on {settings.data.name}, global batch {settings.train.batch_size}; writing to "
                                  f"{self.run_dir}")
        self.watch_job(job, interval_from_env(settings.train.heartbeat_s))
        return self.run_dir

    def watch_job(self, job, heartbeat_s: float = 2.0) -> None:
        """Drive the Train tab from a running TrainJob until it exits (Stop then signals it)."""
        from gui.training.job_watch import JobWatch

        self.job, self.run_dir = job, job.run_dir
        self._job_watch = watch = JobWatch(job, self, heartbeat_s=heartbeat_s)
        watch.recordsArrived.connect(self._on_records)
        watch.ranksChanged.connect(self.ranksChanged)
        watch.message.connect(self.message)
        watch.exited.connect(self._on_job_exited)
        self._set_state(RUNNING)
        self.runStarted.emit(str(self.run_dir))
        watch.start()

    def leave_job(self) -> Path | None:
        """Stop watching the job and leave it running (it is its own process group); returns its run folder."""
        if self.job is None:
            return None
        run_dir = self.run_dir
        self.message.emit("info", f"Left the run in {run_dir} running (pid {self.job.process.pid}); follow it again "
                                  f"from the Runs tab or with layerscope --follow {run_dir}")
        self._forget_job()
        return run_dir

    def _forget_job(self) -> None:
        if self._job_watch is not None:
            self._job_watch.shutdown()
            self._job_watch.deleteLater()
        self.job = self._job_watch = None
        self._set_state(IDLE)

    @Slot(int)
    def _on_job_exited(self, code: int) -> None:
        job = self.job
        if job is None:
            return
        job.wait()  # already exited: reaps it and removes its settings file
        self.last_job_exit = code
        final = job.follower.last_final
        final = dict(final) if final is not None else {}
        self._forget_job()
        if code == 0 or code in STOP_CODES:
            self.message.emit("info", f"Saved in {self.run_dir}")
            # The job's weights reach the hub from its file (the app's own run hands them over in memory).
            run = layout.RunLayout(self.run_dir)
            saved = [path for path in (run.last_checkpoint, run.best_checkpoint) if path.exists()]
            self.runFinished.emit({**final, "stopped": code != 0, "checkpoint": str(saved[0]) if saved else None})
        else:
            message = final.get("message") or f"the processes exited with status {code} (see {layout.RunLayout(self.run_dir).launcher_log})"
            self.message.emit("error", f"Training failed: {message}")
            self.runFailed.emit(message)

    def pause(self) -> None:
        if self._state != RUNNING:
            return
        if self._job_watch is not None:
            self._job_watch.set_paused(True)
            self._set_state(PAUSED)
            self.message.emit("info", "Pausing every process at its next step (control file)")
        elif self._worker is not None:
            self._worker.pause()
            self._set_state(PAUSED)
            self.message.emit("info", "Paused")

    def resume(self) -> None:
        if self._state != PAUSED:
            return
        if self._job_watch is not None:
            self._job_watch.set_paused(False)
            self._set_state(RUNNING)
            self.message.emit("info", "Resumed")
        elif self._worker is not None:
            self._worker.resume()
            self._set_state(RUNNING)
            self.message.emit("info", "Resumed")

    def toggle_pause(self) -> None:
        if self._state == RUNNING:
            self.pause()
        elif self._state == PAUSED:
            self.resume()

    def stop(self) -> None:
        if self._state in (RUNNING, PAUSED) and self.job is not None:
            self.job.stop()
            self._set_state(STOPPING)
            self.message.emit("info", f"Stopping every process (SIGINT) at its next batch; rank 0 saves {layout.LAST}…")
            return
        if self._state in (RUNNING, PAUSED) and self._worker is not None:
            self._worker.stop()
            self._set_state(STOPPING)
            self.message.emit("info", f"Stopping at the next batch; saving {layout.LAST}…")

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop any run and wait for its thread (closing the window). True when no thread is left."""
        if self.job is not None:
            self.stop()
            try:
                self.job.wait(timeout_ms / 1000)
            except Exception:  # subprocess.TimeoutExpired: the job goes on; say where it is
                self.leave_job()
                return False
            self._forget_job()
            return True
        if self._thread is None:
            return True
        self.stop()
        finished = self._thread.wait(timeout_ms)
        if finished:
            self._cleanup()
        return finished

    # ---- worker events (queued onto the GUI thread) --------------------------------------------------
    @Slot(list)
    def _on_records(self, records: list) -> None:
        self.recordsArrived.emit(records)
        for record in records:
            if record.get("kind") == "start":
                self.fitStarted.emit(record)

    @Slot(object, object)
    def _on_checkpoint(self, ckpt, provenance) -> None:
        self.hub.set_checkpoint(ckpt, provenance)

    @Slot(dict)
    def _on_fit_finished(self, summary: dict) -> None:
        # The run's own "end" / "stopped" record already went to the log (gui/training/record_view.py).
        self.message.emit("info", f"Saved in {self.run_dir}")
        self.runFinished.emit(summary)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.message.emit("error", f"Training failed: {message}")
        if details and "Traceback" in details:
            self.message.emit("debug", details.rstrip())
        self.runFailed.emit(message)

    @Slot()
    def _cleanup(self) -> None:
        """The worker thread has ended: forget it and go back to idle (safe to call twice)."""
        if self._thread is None:
            return
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        # `finished` is sent from the thread just before it really ends: wait for that (at once), so the
        # QThread is never destroyed while running. Both objects then die with their Python references.
        thread.wait()
        del thread, worker
        self.hub.detach_run()
        self._set_state(IDLE)
