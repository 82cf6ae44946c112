"""A run directory as its writer sees it: config.json and an append-only metrics.jsonl (whole lines on an
O_APPEND descriptor, so another process can watch it live), beside the checkpoints last.pt and best.pt that
core.training.recorder.RunRecorder saves. The names come from core.runs.layout; readers fold the records
through core.runs.reducer (core.runs.follower, core.runs.history)."""
from __future__ import annotations

import json
from collections.abc import Iterable

from core.io.atomic import append_lines, write_text_atomic
from core.runs import records
from core.runs.layout import RunLayout
from core.runs.records import Record


class RunDirectory(RunLayout):
    def create(self) -> "RunDirectory":
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def write_config(self, config: dict) -> None:
        write_text_atomic(self.config, json.dumps({"version": records.CONFIG_VERSION, **config}, indent=2, default=str),
                          inside=self.path)

    def append_records(self, batch: Iterable[Record]) -> None:
        """Whole lines in one write on an O_APPEND descriptor (core.io.atomic.append_lines): a reader never sees
        two records glued, and a partial line left by a full disk is closed before the next record. Never through
        a link, and only to a plain file with one name (a shared folder's metrics.jsonl linked elsewhere is refused)."""
        append_lines(self.metrics, [records.encode(r) for r in batch], inside=self.path)
