"""Export a run's metrics (the step and epoch records of its metrics.jsonl) to one CSV file, for a
spreadsheet or pandas. Lines that are not valid records are skipped, as a follower skips them."""
from __future__ import annotations

import csv
from pathlib import Path

from core.runs.layout import metrics_file
from core.runs.records import RecordError, decode

COLUMNS = ("kind", "epoch", "step", "batch", "loss", "lr", "train_loss", "train_acc", "val_loss", "val_acc",
           "images_per_sec", "duration_s", "time")
KINDS = ("step", "epoch")


def write_metrics_csv(run: str | Path, out: str | Path) -> int:
    """Write the step and epoch records of `run` (a run folder or its metrics.jsonl) to `out`; returns the
    number of rows. Raises OSError / FileNotFoundError naming the file when it cannot be read or written."""
    source = metrics_file(run)
    rows = 0
    with open(source, "rb") as lines, open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for line in lines:
            if not line.strip():
                continue
            try:
                record = decode(line)
            except RecordError:
                continue
            if record.kind in KINDS:
                writer.writerow({k: ("" if record.get(k) is None else record.get(k)) for k in COLUMNS})
                rows += 1
    return rows
