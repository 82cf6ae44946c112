"""The training worker: a QObject that lives on its own QThread and runs one fit().

The run's records (core.runs.records, the lines of metrics.jsonl) reach the GUI thread in batches over one signal,
`recordsReady`: the same records a follower reads from the file of a run another process writes, so the plots
have one code path. A core Callback adds the weights-only checkpoints the hub needs. Payloads are plain copies
(records are dicts of numbers, a CPU Checkpoint), never live tensors.

Control goes the other way without signals: stop/pause/resume are plain thread-safe calls forwarded to the
Trainer's flags, so they act even while the worker thread is busy inside fit() and never runs its event loop.
"""
from __future__ import annotations

import os
import threading
import traceback
from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal, Slot

from core.training.callbacks import Callback
from core.checkpoints.checkpoint import Checkpoint
from core.errors import describe_failure
from core.models.state import cpu_state_dict
from core.training.session import RunSettings, prepare_trainer
from gui.model_hub import StoppedAt, TrainedEpoch

THREADS_ENV = "LAYERSCOPE_TORCH_THREADS"


def training_threads() -> int | None:
    """CPU threads for torch ops on the training thread: $LAYERSCOPE_TORCH_THREADS, else None (torch's
    default, all cores). Measured on 2 cores (benchmarks/training.py): leaving a core to the GUI halves
    training speed, while the GUI thread needs well under a tenth of a core and stays responsive. Setting
    the count explicitly on this thread (even to the default, 2) was measured far slower here (~50 vs ~700
    images/s): leave it alone unless asked."""
    try:
        return max(1, int(os.environ[THREADS_ENV]))
    except (KeyError, ValueError):
        return None


def weights_only_checkpoint(trainer) -> Checkpoint:
    """A CPU copy of the model as it is now, without optimizer state: what the inspector needs."""
    state = cpu_state_dict(trainer.model)
    metrics = trainer.history[-1].to_dict() if trainer.history else {}
    return Checkpoint(trainer.model_spec, list(trainer.data.classes), trainer.data.preprocess, state, None, metrics)


def _forward_request(trainer, receive) -> None:
    spec, classes, preprocess = trainer.model_spec, list(trainer.data.classes), trainer.data.preprocess

    def on_state(state: dict) -> None:  # on the training thread, at a batch boundary
        metrics = trainer.history[-1].to_dict() if trainer.history else {}
        receive(Checkpoint(spec, classes, preprocess, state, None, metrics), trainer.step)

    trainer.request_weights(on_state)


class _CheckpointBridge(Callback):
    """Engine events the hub needs: a weights-only copy at every epoch end and when the run stops."""

    def __init__(self, worker: "TrainingWorker"):
        self.worker = worker

    def on_epoch_end(self, run, metrics) -> None:
        self.worker.checkpointReady.emit(weights_only_checkpoint(run), TrainedEpoch(metrics.epoch))

    def on_stopped(self, run, summary) -> None:
        self.worker.checkpointReady.emit(weights_only_checkpoint(run), StoppedAt(run.step))


class RecordRelay:
    """A record sink (prepare_trainer(record_sinks=...)): the records the run writes to metrics.jsonl go to
    the GUI thread in batches over one signal. The engine already groups step records into reports (at most
    every report_interval_s); a batch is sent at the last step of a report and at any other record, so the
    GUI gets a handful of signals a second. Called from the training and heartbeat threads."""

    def __init__(self, emit):
        self._emit = emit
        self._lock = threading.Lock()
        self._batch: list = []

    def __call__(self, record) -> None:
        with self._lock:
            self._batch.append(record)
            if record.get("kind") == "step" and "eta_s" not in record:
                return  # more steps of this report follow
            batch, self._batch = self._batch, []
        self._emit(batch)

    def flush(self) -> None:
        with self._lock:
            batch, self._batch = self._batch, []
        if batch:
            self._emit(batch)


class TrainingWorker(QObject):
    recordsReady = Signal(list)  # core.runs.records Records as the run writes them (see RecordRelay)
    checkpointReady = Signal(object, object)  # weights-only Checkpoint, its Provenance
    fitFinished = Signal(dict)  # summary; summary["stopped"] tells a stop from a normal end
    failed = Signal(str, str)  # message for the user, details (traceback) for the log
    done = Signal()  # always the last signal, after success, stop or failure

    def __init__(self, settings: RunSettings, run_dir: str | Path | None, resume: str | Path | None = None,
                 finetune_from: str | Path | None = None):
        super().__init__()
        self.settings = settings
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.resume_from = resume  # a checkpoint to continue from, or None
        self.finetune_from = finetune_from  # a checkpoint whose weights a fresh run starts from, or None
        self._lock = threading.Lock()
        self._trainer = None
        self._stop = False
        self._paused = False
        self._weight_requests: list = []  # asked for before the trainer existed

    # ---- thread-safe control (called from the GUI thread) --------------------------------------------
    def stop(self) -> None:
        with self._lock:
            self._stop = True
            if self._trainer is not None:
                self._trainer.stop()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self._trainer is not None:
                self._trainer.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            if self._trainer is not None:
                self._trainer.resume()

    def request_weights(self, receive) -> None:
        """Thread-safe: `receive(checkpoint, step)` is called on the training thread at the next batch
        boundary with a weights-only CPU copy. A request made while the data is still being prepared waits
        for the trainer."""
        with self._lock:
            if self._trainer is None:
                self._weight_requests.append(receive)
                return
            trainer = self._trainer
        _forward_request(trainer, receive)

    # ---- the run (on the worker thread) --------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        try:
            threads = training_threads()
            if threads is not None:
                torch.set_num_threads(threads)  # OpenMP's thread count is per thread: this one only
            relay = RecordRelay(self.recordsReady.emit)
            if self.finetune_from is not None:  # fresh optimizer, the checkpoint's weights (core/training/finetune.py)
                from core.training.finetune import prepare_finetune

                trainer = prepare_finetune(self.finetune_from, self.run_dir, epochs=self.settings.train.epochs,
                                           lr=self.settings.train.lr, callbacks=[_CheckpointBridge(self)],
                                           record_sinks=[relay])
            else:
                trainer = prepare_trainer(self.settings, self.run_dir, resume=self.resume_from,
                                          callbacks=[_CheckpointBridge(self)], record_sinks=[relay])
            with self._lock:
                self._trainer = trainer
                # A stop or pause pressed while the data was still being built applies now.
                if self._stop:
                    trainer.stop()
                if self._paused:
                    trainer.pause()
                waiting, self._weight_requests = self._weight_requests, []
            for receive in waiting:
                _forward_request(trainer, receive)
            try:
                summary = trainer.fit()
            finally:
                relay.flush()
            self.fitFinished.emit(dict(summary))
        except Exception as exc:  # every failure reaches the user as a message; the app carries on
            # Translated once, here: out of memory / full disk say what to change and which file.
            message = describe_failure(exc) or str(exc).strip() or type(exc).__name__
            self.failed.emit(message, traceback.format_exc())
        finally:
            with self._lock:
                self._trainer = None
            self.done.emit()
