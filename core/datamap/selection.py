"""A selection on the map (a lasso's polygon) and what can be done with it: relabel, exclude or confirm its
images through the dataset's corrections file (core.data.corrections, as the Evaluate tab's label issues do),
and undo that as one step."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core import catalog
from core.data import corrections as corr
from core.runs.layout import RunLayout

ACTIONS = ("relabel", "exclude", "confirm")


def run_dataset(run_dir: str | os.PathLike) -> Path | None:
    """The image folder a run trained on (its config.json), or None (a built-in dataset, no readable config)."""
    from core.runs.index import read_json_object

    try:
        config = read_json_object(RunLayout(run_dir).config)
    except (OSError, ValueError):  # a damaged or missing config: the map still shows, without corrections
        return None
    name = (config.get("data") or {}).get("name") if isinstance(config.get("data"), dict) else None
    return Path(name) if isinstance(name, str) and catalog.is_folder_dataset(name) else None


def inside_polygon(points: np.ndarray, polygon) -> np.ndarray:
    """The rows of `points` [N, 2] inside the closed polygon [[x, y], ...] (a lasso); empty for < 3 corners."""
    from matplotlib.path import Path as PolygonPath

    polygon = np.asarray(polygon, dtype=float).reshape(-1, 2)
    if len(polygon) < 3 or not len(points):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(PolygonPath(polygon).contains_points(np.asarray(points, dtype=float)))


def correct_files(root: str | os.PathLike, files: list[str], action: str, label: str = "",
                  classes: list[str] = ()) -> int:
    """One corrections entry per file (each an undo step), saved once. -> how many were written."""
    if action not in ACTIONS:
        raise corr.CorrectionsError(f"unknown correction {action!r}; use one of {', '.join(ACTIONS)}")
    fixes = corr.load_corrections(root)
    if fixes.problem:
        raise corr.CorrectionsError(fixes.problem)
    for file in files:
        if action == "relabel":
            fixes.relabel(file, label, list(classes))
        elif action == "exclude":
            fixes.exclude(file)
        else:
            fixes.confirm(file)
    fixes.save()
    return len(files)


def undo_edits(root: str | os.PathLike, count: int) -> int:
    """Undo the last `count` edits of the corrections file (a selection's), -> how many were undone."""
    fixes = corr.load_corrections(root)
    if fixes.problem:
        raise corr.CorrectionsError(fixes.problem)
    undone = sum(fixes.undo() is not None for _ in range(max(0, int(count))))
    fixes.save()
    return undone
