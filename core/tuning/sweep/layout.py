"""The files of a sweep folder, named once:

    SWEEP/sweep.json          what the sweep is (the definition, the study's name and storage)
    SWEEP/study.db            the Optuna study (SQLite), unless the sweep uses another storage
    SWEEP/trials/0000/        each trial: an ordinary run folder (config.json, metrics.jsonl, last.pt, best.pt...)
    SWEEP/trials/0000/sweep/  ... plus what the sweep adds: trial.json (its sweep and trial number, its values),
                              settings.json (what it was started with) and train.log (its output)
    SWEEP/results.csv, results.json, importances.json   written as the sweep goes
"""
from __future__ import annotations

from pathlib import Path

SWEEP_FILE = "sweep.json"
STUDY_DB = "study.db"
TRIALS_DIR = "trials"
RESULTS_CSV = "results.csv"
RESULTS_JSON = "results.json"
IMPORTANCES_JSON = "importances.json"
TRIAL_SUBDIR = "sweep"  # inside a trial's run folder
TRIAL_FILE = "trial.json"
TRIAL_SETTINGS = "settings.json"
TRIAL_LOG = "train.log"


def trial_dir(sweep_dir: str | Path, number: int) -> Path:
    return Path(sweep_dir) / TRIALS_DIR / f"{number:04d}"


def trial_files(run_dir: str | Path) -> Path:
    return Path(run_dir) / TRIAL_SUBDIR


def default_storage(sweep_dir: str | Path) -> str:
    return f"sqlite:///{(Path(sweep_dir) / STUDY_DB).resolve()}"
