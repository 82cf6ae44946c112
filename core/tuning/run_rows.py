"""Rows for comparing many runs (the Runs tab's parallel coordinates and scatter): each run's settings as flat
"section.name" values plus its metrics, and which settings vary between the runs (the axes worth drawing).

Qt-free and torch-free: it reads nothing, it is given each run's config.json (as a dict) and metrics."""
from __future__ import annotations

import json
import math
from typing import Any, Iterable

# Settings that say where or how a run ran, not what it learned with: never an axis.
NOT_AXES = ("data.root", "data.path", "train.device", "train.probe_images", "train.resume", "train.workers_seed")
METRICS = ("best_val_acc", "epochs_done", "duration_s")


def flat_settings(config: dict, prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": 0.1}} -> {"train.lr": 0.1}: numbers, text and booleans as they are (booleans as text, a
    category), lists as compact JSON text."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_settings(value, name + "."))
        elif isinstance(value, bool):
            out[name] = str(value).lower()
        elif isinstance(value, (int, float)):
            out[name] = value if math.isfinite(value) else None
        elif isinstance(value, str):
            out[name] = value
        elif value is not None:
            out[name] = json.dumps(value, default=str)
    return out


def run_rows(runs: Iterable[tuple[str, dict, dict]]) -> tuple[list[dict], list[str], list[str]]:
    """runs: (path, config, metrics) of each run. Returns (rows, settings that vary, the metrics that say
    something: the best validation accuracy, and the others where the runs differ);
    each row holds "path", its flat settings and its metrics."""
    rows = []
    for path, config, metrics in runs:
        row = {k: v for k, v in flat_settings(config).items() if k not in NOT_AXES}
        row.update({m: metrics.get(m) for m in METRICS})
        row["path"] = path
        rows.append(row)
    names = sorted({k for row in rows for k in row if k != "path" and k not in METRICS})
    varying = [n for n in names if len({json.dumps(row.get(n), default=str) for row in rows}) > 1]
    # A metric every run shares (all trained 2 epochs) says nothing; the score is always shown.
    metrics = [m for m in METRICS if any(row.get(m) is not None for row in rows)
               and (m == METRICS[0] or len({row.get(m) for row in rows}) > 1)]
    return rows, varying, metrics
