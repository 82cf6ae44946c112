"""A run directory: config.json and an append-only metrics.jsonl (flushed line by line, so another process
can watch it live), beside the checkpoints last.pt and best.pt that core.training.recorder.RunRecorder saves."""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

from core.runs import records
from core.io.atomic import append_lines, write_text_atomic
from core.runs.records import Record

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
        write_text_atomic(self.path / CONFIG_FILE,
                          json.dumps({"version": records.CONFIG_VERSION, **config}, indent=2, default=str))

    def append_metrics(self, *batch: dict) -> None:
        append_lines(self.metrics_path, [json.dumps({k: _clean(v) for k, v in r.items()}) for r in batch])

    def append_records(self, batch: Iterable[Record]) -> None:
        """Whole lines in one write on an O_APPEND descriptor (core.io.atomic.append_lines): a reader never sees
        two records glued, and a partial line left by a full disk is closed before the next record."""
        append_lines(self.metrics_path, [records.encode(r) for r in batch])

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
            epoch, step = record.get("epoch") or 0, record.get("step") or 0
            kept = [r for r in kept if not (
                (r.get("kind") == "epoch" and (r.get("epoch") or 0) > epoch)
                or (r.get("kind") == "step" and (r.get("step") or 0) > step))]
        kept.append(record)
    return kept
