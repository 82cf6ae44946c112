"""Write the predictions of a multi-image drop as CSV: one line per (image, rank), so every top-k entry
is kept and the file loads straight into a spreadsheet or pandas. An unreadable image gets one line with
its error and empty rank / label / probability."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from gui.inspector.results import RowResult

CSV_COLUMNS = ("file", "path", "rank", "label", "probability", "error")


def write_predictions_csv(rows: Iterable[RowResult], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            if row.error is not None:
                writer.writerow([row.label, row.where, "", "", "", row.error])
                continue
            for rank, (label, prob) in enumerate(row.top, start=1):
                writer.writerow([row.label, row.where, rank, label, f"{prob:.6f}", ""])
    return path
