"""Export a run's metrics (the step and epoch records of its metrics.jsonl) to one CSV file, for a
spreadsheet or pandas: each step and each epoch once, in the run's current lineage (a resumed run's replayed
steps are the resumed run's, core.runs.reducer). Lines that are not valid records are skipped, as a follower
skips them."""
from __future__ import annotations

import csv
from pathlib import Path

from core.runs.history import LineageReader

COLUMNS = ("kind", "epoch", "step", "batch", "loss", "lr", "train_loss", "train_acc", "val_loss", "val_acc",
           "images_per_sec", "duration_s", "time")
KINDS = ("step", "epoch")


def write_metrics_csv(run: str | Path, out: str | Path) -> int:
    """Write the step and epoch records of `run` (a run folder or its metrics.jsonl) to `out`; returns the
    number of rows. Raises OSError / FileNotFoundError naming the file when it cannot be read or written."""
    records = LineageReader(run)
    if not records.path.is_file():  # before `out` is created
        raise FileNotFoundError(2, "No such file or directory", str(records.path))
    rows = 0
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            if record.kind in KINDS:
                writer.writerow({k: ("" if record.get(k) is None else record.get(k)) for k in COLUMNS})
                rows += 1
    return rows
