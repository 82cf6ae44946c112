"""The labelling queue: a pool scored by a checkpoint, the photos already decided left out, ranked by a
strategy. What `layerscope label-queue` writes and the app's queue shows."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.io.atomic import write_csv_atomic
from core.labelling.labels_log import load_state
from core.labelling.pool import pool_images
from core.labelling.ranking import rank
from core.progress import NO_PROGRESS, Progress

CSV_HEADER = ["path", "suggested_label", "probability", "familiarity", "score", "reason"]


@dataclass
class QueueItem:
    path: Path
    suggested: str
    probability: float
    familiarity: float | None  # None: unknown (no feature bank)
    score: float
    reason: str
    row: int  # in the PoolScores it came from (to find its features, its nearest labelled images)

    def csv_row(self) -> list:
        return [str(self.path), self.suggested, f"{self.probability:.4f}",
                "" if self.familiarity is None else f"{self.familiarity:.4f}", f"{self.score:.4f}", self.reason]


def undecided(paths: list[Path], dataset: str | os.PathLike | None) -> list[Path]:
    """The pool photos with no standing decision in the dataset's labels log (skipped ones come back)."""
    if dataset is None:
        return paths
    state = load_state(dataset)
    return [p for p in paths if (d := state.decided(str(p))) is None or d["action"] == "skip"]


def queue_from_scores(scores, *, strategy: str = "uncertainty", n: int = 100, seed: int = 0) -> list[QueueItem]:
    ranked = rank(scores.probabilities, scores.features, scores.classes, strategy=strategy, n=n,
                  familiarity=scores.familiarity, seed=seed)
    items = []
    for r in ranked:
        p = scores.probabilities[r.index]
        best = int(p.argmax())
        fam = None if scores.familiarity is None else float(scores.familiarity[r.index])
        items.append(QueueItem(scores.paths[r.index], scores.classes[best], float(p[best]), fam, r.score, r.reason,
                               r.index))
    return items


def build_queue(checkpoint, pool: str | os.PathLike, *, dataset: str | os.PathLike | None = None,
                strategy: str = "uncertainty", n: int = 100, seed: int = 0,
                progress: Progress = NO_PROGRESS) -> tuple[list[QueueItem], "object"]:
    """(the queue, the PoolScores it was ranked from)."""
    from core.labelling.pool_scores import score_pool

    paths = undecided(pool_images(pool), dataset)
    scores = score_pool(checkpoint, paths, familiarity=True, progress=progress)
    return queue_from_scores(scores, strategy=strategy, n=n, seed=seed), scores


def write_queue_csv(items: list[QueueItem], out: str | os.PathLike) -> Path:
    return write_csv_atomic(out, CSV_HEADER, [i.csv_row() for i in items])
