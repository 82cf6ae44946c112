"""A run directory: config.json, an append-only metrics.jsonl (flushed line by line, so another process
can watch it live), last.pt and best.pt. The RunRecorder callback keeps it up to date during fit()."""
from __future__ import annotations

import json
import math
import os
import time
import uuid
from pathlib import Path

from core.callbacks import BatchReport, Callback, EpochMetrics
from core.checkpoint import checkpoint_from_trainer, save_checkpoint
from core.errors import describe_failure
from core.fileio import append_lines, write_text_atomic

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"


def _clean(value):
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunDirectory:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()

    def create(self) -> "RunDirectory":
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def last_checkpoint(self) -> Path:
        return self.path / LAST_CHECKPOINT

    @property
    def best_checkpoint(self) -> Path:
        return self.path / BEST_CHECKPOINT

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    def write_config(self, config: dict) -> None:
        write_text_atomic(self.path / CONFIG_FILE, json.dumps(config, indent=2, default=str))

    def read_config(self) -> dict:
        p = self.path / CONFIG_FILE
        return json.loads(p.read_text()) if p.exists() else {}

    def append_metrics(self, *records: dict) -> None:
        """Whole lines in one write (see core.fileio.append_lines): never two records glued together."""
        append_lines(self.metrics_path, [json.dumps({k: _clean(v) for k, v in r.items()}) for r in records])

    def read_metrics(self) -> list[dict]:
        """Every complete line; a half-written last line (the run is still writing) is skipped."""
        if not self.metrics_path.exists():
            return []
        records = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def epoch_records(self) -> list[dict]:
        return [r for r in current_lineage(self.read_metrics()) if r.get("kind") == "epoch"]


def current_lineage(records: list[dict]) -> list[dict]:
    """The records as the resumed run sees its history: a "resume" record at (epoch E, step S) supersedes
    the step and epoch records past that point that a killed run wrote after its last checkpoint, so epochs
    never repeat and steps never go backwards."""
    kept: list[dict] = []
    for record in records:
        if record.get("kind") == "resume":
            epoch, step = record.get("epoch", 0), record.get("step", 0)
            kept = [r for r in kept if not (
                (r.get("kind") == "epoch" and (r.get("epoch") or 0) > epoch)
                or (r.get("kind") == "step" and (r.get("step") or 0) > step))]
        kept.append(record)
    return kept


class RunRecorder(Callback):
    """Writes step and epoch metrics to the run directory and saves last.pt / best.pt.

    Every record carries this run's id ("run"). Best-so-far comes only from this run's lineage (the
    trainer's history, which a resume restores from its checkpoint), never from other records in the file.
    `lock` (a core.run_lock.RunLock) is released when the fit ends, stops or fails."""

    def __init__(self, run: RunDirectory, save_checkpoints: bool = True, *, lock=None,
                 resumed_from: str | os.PathLike | None = None):
        self.run = run
        self.save_checkpoints = save_checkpoints
        self.lock = lock
        self.resumed_from = resumed_from
        self.run_id = uuid.uuid4().hex[:12]
        self.best_val_acc = -1.0

    def _append(self, *records: dict) -> None:
        self.run.append_metrics(*({**r, "run": self.run_id} for r in records))

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def on_fit_start(self, trainer, info: dict) -> None:
        lineage = [m.val_acc for m in trainer.history if math.isfinite(m.val_acc)]
        self.best_val_acc = max(lineage, default=-1.0)
        if self.resumed_from is not None:
            self._append({"kind": "resume", "time": time.time(), "epoch": trainer.epoch, "step": trainer.step,
                          "from": str(self.resumed_from)})
        self._append({"kind": "start", "time": time.time(), **{k: v for k, v in info.items() if k != "classes"}})

    def on_batch_end(self, trainer, report: BatchReport) -> None:
        self._append(*({"kind": "step", "step": step, "epoch": report.epoch, "loss": _clean(loss), "lr": report.lr}
                       for step, loss in report.losses))

    def on_epoch_end(self, trainer, metrics: EpochMetrics) -> None:
        self._append({"kind": "epoch", **metrics.to_dict()})
        if not self.save_checkpoints:
            return
        checkpoint = checkpoint_from_trainer(trainer)
        save_checkpoint(checkpoint, self.run.last_checkpoint)
        if math.isfinite(metrics.val_acc) and metrics.val_acc > self.best_val_acc:
            self.best_val_acc = metrics.val_acc
            save_checkpoint(checkpoint, self.run.best_checkpoint)

    def on_stopped(self, trainer, summary: dict) -> None:
        try:
            self._append({"kind": "stopped", "time": time.time(), "epoch": summary["epoch"], "step": summary["step"]})
            if self.save_checkpoints:
                # Mid-epoch weights are kept; resuming from here restarts the interrupted epoch.
                save_checkpoint(checkpoint_from_trainer(trainer), self.run.last_checkpoint)
        finally:
            self._release()

    def on_fit_end(self, trainer, summary: dict) -> None:
        try:
            self._append({"kind": "end", "time": time.time(), "epoch": summary["epoch"], "step": summary["step"]})
        finally:
            self._release()

    def on_error(self, trainer, error: BaseException) -> None:
        try:
            self._append({"kind": "error", "time": time.time(), "status": getattr(error, "status", "error"),
                          "message": describe_failure(error) or str(error)})
        except OSError:
            pass
        finally:
            self._release()
