"""Where runs are written and what their folders are called: one rule for the CLI and the GUI.

Torch-free and Qt-free (the window imports it before the engine is loaded).
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

APPLICATION = "layerscope"
RUNS_DIR_ENV = "LAYERSCOPE_RUNS_DIR"  # tests and scripts point runs somewhere else with this


def default_runs_root() -> Path:
    """`$LAYERSCOPE_RUNS_DIR`, else <user data dir>/layerscope/runs (platformdirs: right on every OS)."""
    override = os.environ.get(RUNS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APPLICATION)) / "runs"


def _dataset_label(dataset: str) -> str:
    """'shapes' stays; a folder path is named by its last part; anything unsafe in a file name becomes '_'."""
    name = Path(dataset).name if ("/" in dataset or os.sep in dataset) else dataset
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "data"


def new_run_name(model: str, dataset: str, now: datetime | None = None) -> str:
    """'<date>_<hhmm>_<dataset>_<model>', e.g. '2026-12-02_1438_shapes_cnn': sorts by start time."""
    now = now or datetime.now()
    return f"{now:%Y-%m-%d_%H%M}_{_dataset_label(dataset)}_{_dataset_label(model)}"


def new_run_dir(root: str | os.PathLike, model: str, dataset: str, now: datetime | None = None) -> Path:
    """A folder under `root` named by new_run_name() that does not exist yet ('-2', '-3'... for runs started
    in the same minute). It is not created here."""
    base = new_run_name(model, dataset, now)
    path = Path(root) / base
    n = 2
    while path.exists():
        path = Path(root) / f"{base}-{n}"
        n += 1
    return path
