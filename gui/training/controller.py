"""The training controller: owns one worker and its QThread at a time, and the run's state machine.

    idle --start--> running --pause--> paused --resume--> running
    running/paused --stop--> stopping --(worker done)--> idle
    running --(fit ends or fails)--> idle

The GUI talks to the engine only through the worker's thread-safe stop/pause/resume/request_weights. Every run writes a run
directory under the runs root (metrics.jsonl, last.pt, best.pt). At every epoch end and when a run stops, the
hub gets a weights-only copy of the model, so the inspector always shows the latest one.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from core.session import RunSettings
from gui.model_hub import ModelHub
from gui.settings import default_runs_root, new_run_dir
from gui.training.worker import TrainingWorker

IDLE, RUNNING, PAUSED, STOPPING = "idle", "running", "paused", "stopping"

# Batch reports at most 5 times a second: each one carries every step's loss since the last, so the plot
# loses nothing, and each costs a repaint on the GUI thread (benchmarks/training.py measures the trade).
REPORT_INTERVAL_S = 0.2


class TrainingController(QObject):
    stateChanged = Signal(str)
    runStarted = Signal(str)  # the run directory
    fitStarted = Signal(dict)  # the engine's fit info (epochs, batches_per_epoch, device, classes, ...)
    batchReported = Signal(dict)
    epochEnded = Signal(dict)
    runFinished = Signal(dict)  # the fit summary; "stopped" is True for a stopped run
    runFailed = Signal(str)  # a message for the user
    message = Signal(str, str)  # (level, text) for the log panel

    def __init__(self, hub: ModelHub, runs_root: str | Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.hub = hub
        self.runs_root = Path(runs_root) if runs_root is not None else default_runs_root()
        self._state = IDLE
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self.run_dir: Path | None = None

    # ---- state ---------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def is_active(self) -> bool:
        return self._state != IDLE

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    # ---- commands ------------------------------------------------------------------------------------
    def start(self, settings: RunSettings, resume: str | Path | None = None,
              finetune_from: str | Path | None = None) -> Path | None:
        """Start a run on a fresh worker thread; returns its run directory (None if a run is active).
        finetune_from: a checkpoint whose weights the run starts from, with a fresh optimizer."""
        if self._state != IDLE:
            return None
        self.run_dir = new_run_dir(self.runs_root, settings.model_name, settings.data.name)
        settings.train.report_interval_s = max(settings.train.report_interval_s, REPORT_INTERVAL_S)
        worker = TrainingWorker(settings, self.run_dir, resume, finetune_from)
        thread = QThread()
        thread.setObjectName("layerscope-training")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.fitStarted.connect(self._on_fit_started)
        worker.batchReported.connect(self.batchReported)
        worker.epochEnded.connect(self._on_epoch_ended)
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

    def pause(self) -> None:
        if self._state == RUNNING and self._worker is not None:
            self._worker.pause()
            self._set_state(PAUSED)
            self.message.emit("info", "Paused")

    def resume(self) -> None:
        if self._state == PAUSED and self._worker is not None:
            self._worker.resume()
            self._set_state(RUNNING)
            self.message.emit("info", "Resumed")

    def toggle_pause(self) -> None:
        if self._state == RUNNING:
            self.pause()
        elif self._state == PAUSED:
            self.resume()

    def stop(self) -> None:
        if self._state in (RUNNING, PAUSED) and self._worker is not None:
            self._worker.stop()
            self._set_state(STOPPING)
            self.message.emit("info", "Stopping at the next batch; saving last.pt…")

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop any run and wait for its thread (closing the window). True when no thread is left."""
        if self._thread is None:
            return True
        self.stop()
        finished = self._thread.wait(timeout_ms)
        if finished:
            self._cleanup()
        return finished

    # ---- worker events (queued onto the GUI thread) --------------------------------------------------
    @Slot(dict)
    def _on_fit_started(self, info: dict) -> None:
        self.message.emit("info", f"Training on {info.get('device')}: {info.get('train_size')} train / "
                                  f"{info.get('val_size')} val images, {info.get('batches_per_epoch')} batches per epoch")
        self.fitStarted.emit(info)

    @Slot(dict)
    def _on_epoch_ended(self, m: dict) -> None:
        self.message.emit("info", f"Epoch {m['epoch']}: train loss {m['train_loss']:.4f}, train acc {m['train_acc']:.1%}, "
                                  f"val loss {m['val_loss']:.4f}, val acc {m['val_acc']:.1%}, lr {m['lr']:.3g}, "
                                  f"{m['images_per_sec']:.0f} img/s, {m['duration_s']:.1f} s")
        self.epochEnded.emit(m)

    @Slot(object, object)
    def _on_checkpoint(self, ckpt, provenance) -> None:
        self.hub.set_checkpoint(ckpt, provenance)

    @Slot(dict)
    def _on_fit_finished(self, summary: dict) -> None:
        where = self.run_dir
        if summary.get("stopped"):
            self.message.emit("info", f"Run stopped at epoch {summary.get('epoch')}, step {summary.get('step')}; "
                                      f"weights saved to {where / 'last.pt' if where else 'nowhere'}")
        else:
            best = summary.get("best_val_acc")
            best_text = f", best val acc {best:.1%}" if isinstance(best, float) else ""
            self.message.emit("info", f"Run finished after {summary.get('epoch')} epochs{best_text}; saved in {where}")
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
