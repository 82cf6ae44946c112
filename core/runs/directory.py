"""A run directory as its writer sees it: config.json and an append-only metrics.jsonl (whole lines on an O_APPEND
descriptor, so another process can watch it live), beside the checkpoints last.pt and best.pt that
core.training.recorder.RunRecorder saves. The names come from core.runs.layout."""
from __future__ import annotations

import json
import math
from collections.abc import Iterable

from core.io.atomic import append_lines, write_text_atomic
from core.runs import records
from core.runs.layout import RunLayout
from core.runs.records import Record


def _clean(value):
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunDirectory(RunLayout):
    def create(self) -> "RunDirectory":
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def metrics_path(self):
        return self.metrics

    def write_config(self, config: dict) -> None:
        write_text_atomic(self.config, json.dumps({"version": records.CONFIG_VERSION, **config}, indent=2, default=str))

    def append_records(self, batch: Iterable[Record]) -> None:
        """Whole lines in one write on an O_APPEND descriptor (core.io.atomic.append_lines): a reader never sees
        two records glued, and a partial line left by a full disk is closed before the next record."""
        append_lines(self.metrics, [records.encode(r) for r in batch])

    def append_metrics(self, *batch: dict) -> None:
        append_lines(self.metrics, [json.dumps({k: _clean(v) for k, v in r.items()}) for r in batch])

    def read_metrics(self) -> list[dict]:
        """Every complete line; a half-written last line (the run is still writing) is skipped."""
        if not self.metrics.exists():
            return []
        records = []
        for line in self.metrics.read_text(encoding="utf-8").splitlines():
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
