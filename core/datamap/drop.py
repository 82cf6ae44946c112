"""Where a dropped image falls on a run's map.

A map is the projection of features made with one set of weights, so a new image must be seen by those same
weights: the run's best.pt for a map of best.pt's own pass; for a replayed run, the epoch whose feature file
was made with the weights of last.pt or best.pt (normally the last epoch: last.pt; earlier epochs' weights are
not kept). The image's penultimate features are then placed by that map's own projection
(core.datamap.project.MapProjection.place): PCA projects them exactly onto the same components; t-SNE has no
transform for new points, so the image goes to the mean position of its 5 nearest map points in feature
space (weighted by closeness); UMAP uses umap-learn's own transform. The map's alignment is applied too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.datamap.project import MapError
from core.progress import NO_PROGRESS, Progress
from core.runs.layout import BEST, LAST, RunLayout


@dataclass
class Placement:
    image: str
    map_index: int  # which of the run's maps it was placed on
    point: np.ndarray  # float32 [2], map coordinates
    checkpoint: str  # the checkpoint's file name whose weights saw it
    prediction: str
    probability: float


def _epoch_weights(path: Path) -> str | None:
    """The weights checksum an epoch feature file was made with (None: unreadable). allow_pickle=False: the
    file cannot run code; only this one small text entry is read."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return str(archive["weights_sha256"])
    except (OSError, ValueError, KeyError):
        return None


def map_for_checkpoint(run_dir: str | os.PathLike, epochs: list[int], checksum: str, name: str) -> int | None:
    """The index (in `epochs`, the run's maps) of the map made with these weights, latest first."""
    layout = RunLayout(run_dir)
    for index in range(len(epochs) - 1, -1, -1):
        epoch = epochs[index]
        if epoch < 0:  # the map of best.pt's own pass
            if name == BEST:
                return index
        elif _epoch_weights(layout.epoch_features(epoch)) == checksum:
            return index
    return None


def place_image(run_dir: str | os.PathLike, maps: list, image: str, *,
                progress: Progress = NO_PROGRESS) -> Placement:
    """Place `image` (a file) on the map of `maps` (core.datamap.replay.EpochMap, as shown) whose weights a
    checkpoint of the run holds. MapError when none does or the image cannot be read."""
    import torch

    from core.checkpoints.predict import Predictor
    from core.familiarity.jobs import open_checkpoint
    from core.io.images import ImageLoadError
    from core.models.hooks import features_and_output

    layout = RunLayout(run_dir)
    epochs = [m.epoch for m in maps]
    for name, path in ((LAST, layout.last_checkpoint), (BEST, layout.best_checkpoint)):
        progress.check_cancelled()
        if not path.is_file():
            continue
        loaded = open_checkpoint(path)
        index = map_for_checkpoint(run_dir, epochs, loaded.checksum, name)
        if index is None:
            continue
        predictor = Predictor.from_checkpoint(loaded.checkpoint)
        try:
            batch = predictor.to_input(predictor.load(image))
        except ImageLoadError as exc:
            raise MapError(f"{image}: {exc.reason}") from None
        features, output = features_and_output(predictor.model, batch)
        probabilities = torch.softmax(output.float(), dim=1)[0]
        best = int(probabilities.argmax())
        point = maps[index].projection.place(features.float().cpu())[0]
        progress.update(1, 1, "placed")
        return Placement(str(image), index, point, name, predictor.classes[best], float(probabilities[best]))
    raise MapError(f"no checkpoint of {Path(run_dir).name} ({LAST} or {BEST}) has the weights of one of its maps, "
                   "so a new image cannot be placed on them (the run may still be training, or its files were "
                   "replaced)")
