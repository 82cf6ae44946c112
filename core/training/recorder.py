"""The RunRecorder callback keeps a run directory (core.runs.directory) up to date during fit(): records in
metrics.jsonl, a heartbeat, last.pt and best.pt."""
from __future__ import annotations

import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable

from core.runs import records
from core.training.callbacks import BatchReport, Callback, EpochMetrics, FitStart, FitSummary, RunPoint, RunView
from core.checkpoints.checkpoint import checkpoint_from_trainer, save_checkpoint
from core.errors import describe_failure
from core.runs.directory import RunDirectory
from core.runs.layout import LAST
from core.runs.heartbeat import DEFAULT_INTERVAL_S, Heartbeat, interval_from_env
from core.runs.records import Record
from core.training.errors import DivergedError


class RunRecorder(Callback):
    """Writes the run's records (core.runs.records) to metrics.jsonl, a heartbeat while the run is alive, and
    last.pt / best.pt (last.pt also every `checkpoint_every_min` minutes mid-epoch). Every record also goes
    to `sinks` (callables taking a Record: a TensorBoard writer, the window's signal) after it is written.

    Every record carries this run's id ("run"). Best-so-far comes only from this run's lineage (the
    trainer's history, which a resume restores from its checkpoint), never from other records in the file.
    `lock` (a core.runs.lock.RunLock) is released when the fit ends, stops or fails."""

    def __init__(self, run: RunDirectory, save_checkpoints: bool = True, sinks: Iterable[Callable] = (), *,
                 lock=None):
        self.run = run
        self.save_checkpoints = save_checkpoints
        self.sinks = list(sinks)
        self.lock = lock
        self.run_id = uuid.uuid4().hex[:12]
        self.best_val_acc = -1.0
        self._write_lock = threading.Lock()  # one writer of metrics.jsonl: hooks and the heartbeat thread
        self._heartbeat: Heartbeat | None = None
        self._last_save = time.monotonic()
        self._step = 0
        self._epoch = 0

    def _write(self, *records: Record) -> None:
        for record in records:
            record["run"] = self.run_id
        with self._write_lock:
            self.run.append_records(records)
        for sink in self.sinks:
            for record in records:
                sink(record)

    def _beat(self, run: RunView) -> None:
        state = records.PAUSED if run.paused else (records.EVALUATING if run.phase == "evaluating" else records.RUNNING)
        self._write(records.make("heartbeat", state=state, epoch=self._epoch, step=run.step))

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        interval = interval_from_env(getattr(run.config, "heartbeat_s", DEFAULT_INTERVAL_S))
        lineage = [m.val_acc for m in run.history if math.isfinite(m.val_acc)]
        self.best_val_acc = max(lineage, default=-1.0)
        self._step, self._epoch = start.step, start.start_epoch + 1
        fields = {k: v for k, v in start.to_dict().items() if k in records.FIELD_TYPES}
        out = []
        if start.start_epoch > 0 or start.step > 0:
            out.append(records.make("resume", epoch=start.start_epoch, step=start.step, batch=start.start_batch))
        out.append(records.make("start", **fields, heartbeat_s=interval, pid=os.getpid(), host=socket.gethostname(),
                                resumed=bool(out)))
        self._write(*out)
        self._last_save = time.monotonic()
        self._heartbeat = Heartbeat(lambda: self._beat(run), interval)
        self._heartbeat.start()

    def on_batch_end(self, run: RunView, report: BatchReport) -> None:
        self._step, self._epoch = report.step, report.epoch
        out = []
        last = len(report.losses) - 1
        for i, (step, loss) in enumerate(report.losses):
            extra = {}
            if i == last:  # the throughput and ETA of this report ride on its last step
                extra = {"images_per_sec": report.images_per_sec, "elapsed_s": report.elapsed_s, "eta_s": report.eta_s,
                         "epochs": report.epochs, "batches_per_epoch": report.batches_per_epoch,
                         "total_steps": report.total_steps}
            out.append(records.make("step", step=step, epoch=report.epoch, batch=report.batch - (report.step - step),
                                    loss=loss, lr=report.lr, **extra))
        for payload in report.compute:  # one per process: where the steps' time went since the last
            out.append(records.make("compute", **payload, step=report.step, epoch=report.epoch))
        self._write(*out)
        every = getattr(run.config, "checkpoint_every_min", 0) or 0
        if self.save_checkpoints and every > 0 and time.monotonic() - self._last_save >= every * 60:
            self._last_save = time.monotonic()
            # Saved where every process agrees (on_checkpoint_due): each reduces the epoch's running sums for it.
            run.request_checkpoint()

    def on_checkpoint_due(self, run: RunView, at: RunPoint) -> None:
        if not self.save_checkpoints:
            return
        save_checkpoint(checkpoint_from_trainer(run), self.run.last_checkpoint)
        self._last_save = time.monotonic()
        self._write(records.make("checkpoint", checkpoint=LAST, reason="periodic", epoch=at.epoch,
                                 step=at.step, batch=at.batch))

    def on_paused(self, run: RunView, at: RunPoint) -> None:
        self._write(records.make("paused", epoch=at.epoch, step=at.step, **_reason(at)))

    def on_resumed(self, run: RunView, at: RunPoint) -> None:
        self._write(records.make("resumed", epoch=at.epoch, step=at.step, **_reason(at)))

    def on_epoch_end(self, run: RunView, metrics: EpochMetrics) -> None:
        self._epoch = metrics.epoch + 1
        self._write(records.make("epoch", **metrics.to_dict(), epochs=run.config.epochs))
        if not self.save_checkpoints:
            return
        checkpoint = checkpoint_from_trainer(run)
        save_checkpoint(checkpoint, self.run.last_checkpoint)
        self._last_save = time.monotonic()
        if math.isfinite(metrics.val_acc) and metrics.val_acc > self.best_val_acc:
            self.best_val_acc = metrics.val_acc
            save_checkpoint(checkpoint, self.run.best_checkpoint)

    def on_stopped(self, run: RunView, summary: FitSummary) -> None:
        self._stop_heartbeat()
        try:
            if self.save_checkpoints:
                # The position inside the epoch is saved too: a resume skips exactly the batches already done.
                save_checkpoint(checkpoint_from_trainer(run), self.run.last_checkpoint)
            self._write(records.make("stopped", epoch=summary.epoch, step=summary.step, batch=summary.batch))
        finally:
            self._release()

    def on_fit_end(self, run: RunView, summary: FitSummary) -> None:
        self._stop_heartbeat()
        out = []
        if summary.early_stop:
            out.append(records.make("early_stop", **summary.early_stop))
        out.append(records.make("end", epoch=summary.epoch, step=summary.step, best_val_acc=summary.best_val_acc))
        try:
            self._write(*out)
        finally:
            self._release()

    def on_error(self, run: RunView, error: BaseException) -> None:
        self._stop_heartbeat()
        kind = "diverged" if isinstance(error, DivergedError) else "error"
        try:
            self._write(records.make(kind, message=describe_failure(error) or str(error), step=run.step,
                                     epoch=self._epoch))
        except OSError:
            pass
        finally:
            self._release()


def _reason(at: RunPoint) -> dict:
    """The record's optional "reason" (who paused the run, a pause that lapsed), when one was given."""
    return {"reason": at.reason} if at.reason else {}
