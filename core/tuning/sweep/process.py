"""A sweep in its own process, as the app starts one: the definition written into the sweep folder
(SWEEP/spec.json), `python -m core.cli sweep` started on it (its output in SWEEP/sweep.log), stopped with
SIGTERM (the CLI stops its running trials and queues them again), and the trials read back as they are now
(each trial is an ordinary run folder: its row comes from core.runs.index like any run's).

Optuna-free: the definition is checked by SweepSpec (core.tuning.sweep.spec), the trials read from their folders."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from core.io.atomic import open_append, write_text_atomic
from core.io.small_files import CAPS, SmallFileError, read_json
from core.runs.index import RunIndex
from core.runs.layout import RunLayout, SweepLayout
from core.tuning.sweep.spec import SweepSpec
from core.tuning.sweep.trial import ROOT, trial_environment


def write_spec(spec: dict, sweep_dir: str | os.PathLike) -> Path:
    """Check the definition (SweepSpecError names what is wrong) and write it as SWEEP/spec.json."""
    checked = SweepSpec.from_dict(spec)
    folder = SweepLayout(sweep_dir)
    folder.path.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(folder.spec, json.dumps(checked.to_dict(), indent=2))


def start_sweep(sweep_dir: str | os.PathLike, *, trials: int, parallel: int = 1,
                env: dict | None = None) -> subprocess.Popen:
    """`layerscope sweep SWEEP/spec.json --out SWEEP` in its own process group (closing the app does not signal
    it); its output appended to SWEEP/sweep.log."""
    folder = SweepLayout(Path(sweep_dir).resolve())
    argv = [sys.executable, "-m", "core.cli", "sweep", str(folder.spec), "--out", str(folder.path),
            "--trials", str(int(trials)), "--parallel", str(int(parallel)), "--quiet"]
    log = open_append(folder.log, inside=folder.path)
    try:
        return subprocess.Popen(argv, cwd=ROOT, env=trial_environment(None, env), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        os.close(log)  # the child has its own descriptor


def stop_sweep(process: subprocess.Popen) -> None:
    """Ask the sweep to stop: its running trials stop after their batch and are queued again."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)


def trial_rows(sweep_dir: str | os.PathLike, index: RunIndex | None = None) -> list[dict]:
    """One row per trial folder there is now: trial number, the values it tries, and its run's status, epochs
    and best validation accuracy (as the Runs tab reads any run)."""
    index = index or RunIndex(None)
    rows = []
    for path in SweepLayout(sweep_dir).trial_folders():
        try:
            identity = read_json(RunLayout(path).trial_file, max_bytes=CAPS["settings"], schema=dict)
        except (SmallFileError, OSError):
            identity = {}  # written just after the folder: the next read has it
        summary = index.summary(path)
        values = identity.get("values") if isinstance(identity.get("values"), dict) else {}
        rows.append({"trial": int(path.name), "path": str(path), "values": values, "status": summary.status,
                     "epochs": summary.epochs_text, "best_val_acc": summary.best_val_acc, "error": summary.error})
    return rows


def read_importances(sweep_dir: str | os.PathLike) -> dict[str, float]:
    """The sweep's parameter importances (Optuna's, written when the sweep ends); empty before."""
    path = SweepLayout(sweep_dir).importances
    if not path.is_file():
        return {}
    try:
        found = read_json(path, max_bytes=CAPS["summary"], schema=dict)
    except (SmallFileError, OSError):
        return {}
    values = found.get("importances", found)
    if not isinstance(values, dict):
        return {}
    return {str(k): float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
