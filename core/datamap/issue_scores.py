"""Label-issue scores for the map's colours: each image's score from a label-issue pass (core.evaluate.label_issues:
0 = its label looks right, 1 = most likely mislabelled), keyed by its file so a map's points find theirs.

A run's scores come from RUN/eval/label_issues.csv (what `layerscope label-issues --out` writes); the Evaluate
tab's pass gives them in memory. Paths are compared as absolute, normalised paths (no file-system lookups: a
map may hold 100,000 points).
"""
from __future__ import annotations

import math
import os

from core.io.small_files import SmallFileError, read_csv
from core.runs.layout import RunLayout

MIN_COVERED = 0.5  # scores for fewer of a map's images than this share: they are of another dataset


def file_key(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def scores_by_file(pairs) -> dict[str, float]:
    """{file key: score} from (file, score) pairs; scores outside [0, 1] or not numbers are left out."""
    scores = {}
    for file, score in pairs:
        try:
            value = float(score)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value) and 0.0 <= value <= 1.0:
            scores[file_key(str(file))] = value
    return scores


def run_issue_scores(run_dir: str | os.PathLike) -> dict[str, float] | None:
    """The scores in RUN/eval/label_issues.csv, or None when there is none or it cannot be read."""
    path = RunLayout(run_dir).label_issues
    if not path.is_file():
        return None
    try:
        rows = read_csv(path, required=("file", "score"))
    except (SmallFileError, OSError):
        return None
    return scores_by_file((row["file"], row["score"]) for row in rows) or None


def scores_for(ids: list[str], scores: dict[str, float] | None) -> list[float | None] | None:
    """Each map image's score (None: not scored), or None when the scores cover too few of the images."""
    if not scores or not ids:
        return None
    found = [scores.get(file_key(name)) for name in ids]  # an in-memory image's id ("shapes:...") finds none
    covered = sum(value is not None for value in found)
    return found if covered >= MIN_COVERED * len(ids) else None
