"""A sweep's results: one row per trial (its values, its score, its state, its run folder) as CSV and JSON, and
the parameters' importances (optuna.importance: how much of the score's variation each setting explains)."""
from __future__ import annotations

import csv
import io
import json
import math
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from core.io.atomic import write_text_atomic
from core.runs.layout import SweepLayout
from core.tuning.sweep.spec import SweepSpec
from core.tuning.sweep.study import ATTR_MESSAGE, ATTR_OUTCOME, ATTR_RUN_DIR

FIXED_COLUMNS = ("trial", "state", "outcome", "value", "epochs", "duration_s", "run_dir", "retry_of", "message")


def result_rows(study: optuna.Study, spec: SweepSpec) -> list[dict]:
    rows = []
    for trial in study.get_trials(deepcopy=False):
        duration = trial.duration.total_seconds() if trial.duration is not None else None
        row = {"trial": trial.number, "state": trial.state.name.lower(),
               "outcome": trial.user_attrs.get(ATTR_OUTCOME, trial.state.name.lower()),
               "value": _finite(trial.value) if trial.state == TrialState.COMPLETE else None,
               "epochs": len(trial.intermediate_values), "duration_s": duration,
               "run_dir": trial.user_attrs.get(ATTR_RUN_DIR, ""),
               "retry_of": trial.system_attrs.get("failed_trial"),
               "message": trial.user_attrs.get(ATTR_MESSAGE, "")}
        row.update({name: trial.params.get(name) for name in spec.params})
        rows.append(row)
    return rows


def best_row(rows: list[dict], direction: str) -> dict | None:
    scored = [r for r in rows if r["value"] is not None]
    if not scored:
        return None
    pick = max if direction == "maximize" else min
    return pick(scored, key=lambda r: r["value"])


def importances(study: optuna.Study) -> tuple[dict[str, float], str]:
    """(importance per parameter, a note when there are none yet)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}, "importances need at least 2 complete trials"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:  # e.g. every trial had the same values
        return {}, f"no importances: {str(exc)[:200]}"
    return {k: float(v) for k, v in found.items()}, ""


def write_results(sweep_dir: str | Path, study: optuna.Study, spec: SweepSpec, *,
                  with_importances: bool = False) -> dict[str, Path]:
    folder = SweepLayout(sweep_dir)
    rows = result_rows(study, spec)
    columns = [*FIXED_COLUMNS[:4], *spec.params, *FIXED_COLUMNS[4:]]
    files = {"csv": write_text_atomic(folder.results_csv, _csv(rows, columns)),
             "json": write_text_atomic(folder.results_json, json.dumps(
                 {"metric": spec.metric, "direction": spec.direction, "summary": spec.summary,
                  "best": best_row(rows, spec.direction), "trials": rows}, indent=2))}
    if with_importances:
        found, note = importances(study)
        files["importances"] = write_text_atomic(folder.importances,
                                                 json.dumps({"importances": found, "note": note}, indent=2))
    return files


def _csv(rows: list[dict], columns: list[str]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    return text.getvalue()


def _finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
