"""One map per saved epoch, each laid over the one before on the images they share, so a slider or a play
button shows the classes pulling apart instead of the whole cloud spinning and flipping between epochs."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.datamap.align import fit_similarity, shared_rows
from core.datamap.project import MapProjection, project
from core.familiarity._progress import steps
from core.familiarity.errors import BankError
from core.familiarity.features import FeatureSet
from core.familiarity.store import epoch_feature_files, load_features


@dataclass
class EpochMap:
    epoch: int
    features: FeatureSet  # ids, labels, splits, logits of the points, in map order
    projection: MapProjection

    @property
    def points(self) -> np.ndarray:
        return self.projection.points


def align_to(previous: EpochMap | None, features: FeatureSet, projection: MapProjection) -> MapProjection:
    if previous is None:
        return projection
    old, new = shared_rows(previous.features.ids, features.ids)
    return projection.aligned(fit_similarity(projection.points[new], previous.points[old]))


def _start_from(previous: EpochMap | None, features: FeatureSet, method: str) -> np.ndarray | None:
    """A t-SNE map starts where the previous epoch's ended, when both hold the same images in the same order."""
    if method != "tsne" or previous is None or previous.features.ids != features.ids:
        return None
    return previous.points


def replay_maps(epochs: list[tuple[int, FeatureSet]], method: str = "pca", *, seed: int = 0, progress=None,
                cancelled=None) -> list[EpochMap]:
    """An aligned map for each (epoch, features), in epoch order."""
    tracker = steps(progress, cancelled)
    maps: list[EpochMap] = []
    ordered = sorted(epochs, key=lambda item: item[0])
    for i, (epoch, features) in enumerate(ordered):
        tracker.check("the map replay")
        previous = maps[-1] if maps else None
        projection = project(features.features, method, seed=seed, init=_start_from(previous, features, method),
                             cancelled=tracker.is_cancelled)
        maps.append(EpochMap(epoch, features, align_to(previous, features, projection)))
        tracker.report(i + 1, len(ordered), f"map of epoch {epoch}")
    return maps


def replay_run(run_dir: str | os.PathLike, method: str = "pca", **kwargs
               ) -> tuple[list[EpochMap], list[tuple[Path, str]]]:
    """(the aligned maps of every epoch-N.npz a run kept, [(file, reason)] for files skipped as damaged)."""
    epochs, skipped = [], []
    for epoch, path in epoch_feature_files(Path(run_dir)):
        try:
            features, _classes, _ = load_features(path)
        except BankError as exc:
            skipped.append((path, str(exc)))
            continue
        epochs.append((epoch, features))
    return replay_maps(epochs, method, **kwargs), skipped
