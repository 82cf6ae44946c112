"""A run directory: config.json, an append-only metrics.jsonl (flushed line by line, so another process
can watch it live), last.pt and best.pt. The RunRecorder callback keeps it up to date during fit()."""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from core.callbacks import BatchReport, Callback, EpochMetrics
from core.checkpoint import checkpoint_from_trainer, save_checkpoint

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
        tmp = self.path / f".{CONFIG_FILE}.tmp"
        tmp.write_text(json.dumps(config, indent=2, default=str))
        os.replace(tmp, self.path / CONFIG_FILE)

    def append_metrics(self, record: dict) -> None:
        line = json.dumps({k: _clean(v) for k, v in record.items()})
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()

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
        return [r for r in self.read_metrics() if r.get("kind") == "epoch"]


class RunRecorder(Callback):
    """Writes step and epoch metrics to the run directory and saves last.pt / best.pt."""

    def __init__(self, run: RunDirectory, save_checkpoints: bool = True):
        self.run = run
        self.save_checkpoints = save_checkpoints
        previous = [r.get("val_acc") for r in run.epoch_records() if r.get("val_acc") is not None]
        self.best_val_acc = max(previous, default=-1.0)

    def on_fit_start(self, trainer, info: dict) -> None:
        self.run.append_metrics({"kind": "start", "time": time.time(), **{k: v for k, v in info.items() if k != "classes"}})

    def on_batch_end(self, trainer, report: BatchReport) -> None:
        with open(self.run.metrics_path, "a", encoding="utf-8") as fh:
            for step, loss in report.losses:
                fh.write(json.dumps({"kind": "step", "step": step, "epoch": report.epoch,
                                     "loss": _clean(loss), "lr": report.lr}) + "\n")
            fh.flush()

    def on_epoch_end(self, trainer, metrics: EpochMetrics) -> None:
        self.run.append_metrics({"kind": "epoch", **metrics.to_dict()})
        if not self.save_checkpoints:
            return
        checkpoint = checkpoint_from_trainer(trainer)
        save_checkpoint(checkpoint, self.run.last_checkpoint)
        if math.isfinite(metrics.val_acc) and metrics.val_acc > self.best_val_acc:
            self.best_val_acc = metrics.val_acc
            save_checkpoint(checkpoint, self.run.best_checkpoint)

    def on_stopped(self, trainer, summary: dict) -> None:
        self.run.append_metrics({"kind": "stopped", "time": time.time(), "epoch": summary["epoch"], "step": summary["step"]})
        if self.save_checkpoints:
            # Mid-epoch weights are kept; resuming from here restarts the interrupted epoch.
            save_checkpoint(checkpoint_from_trainer(trainer), self.run.last_checkpoint)

    def on_fit_end(self, trainer, summary: dict) -> None:
        self.run.append_metrics({"kind": "end", "time": time.time(), "epoch": summary["epoch"], "step": summary["step"]})

    def on_error(self, trainer, error: BaseException) -> None:
        try:
            self.run.append_metrics({"kind": "error", "time": time.time(), "message": str(error)})
        except OSError:
            pass
