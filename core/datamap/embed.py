"""The headless map job (phase 2's `layerscope embed`): a checkpoint and a dataset -> map.csv + map.png.

One feature pass over the training and validation images (kept in the run folder and reused while the
weights are the same), familiarity against the checkpoint's stored bank (or, when it has none, a bank made
from these training images, each training image left out of its own neighbours), and a 2-D projection.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.datamap.project import MapProjection, project
from core.datamap.scatter import scatter_png
from core.familiarity._progress import steps
from core.familiarity.bank import FeatureBank, make_bank
from core.familiarity.bank_file import bank_path, load_bank
from core.familiarity.errors import BankError
from core.familiarity.features import SPLIT_CODES, FeatureSet
from core.familiarity.jobs import LoadedCheckpoint, checkpoint_features
from core.familiarity.scoring import familiarity_scores
from core.io.atomic import atomic_write

MAP_CSV, MAP_PNG = "map.csv", "map.png"
CSV_HEADER = ("path", "split", "label", "prediction", "probability", "familiarity", "x", "y")
_SPLIT_NAMES = {code: name for name, code in SPLIT_CODES.items()}


@dataclass
class EmbedResult:
    csv: Path
    png: Path
    features: FeatureSet
    projection: MapProjection
    familiarity: np.ndarray  # [N] scores in [0, 1]
    familiar: np.ndarray  # [N] bool at the calibrated threshold
    classes: list[str]
    notes: list[str] = field(default_factory=list)


def _bank(loaded: LoadedCheckpoint, features: FeatureSet, notes: list[str]) -> FeatureBank:
    """The checkpoint's stored bank when it is usable, else one made from these features."""
    if loaded.path is not None and bank_path(loaded.path).is_file():
        try:
            return load_bank(bank_path(loaded.path), loaded.checksum, loaded.checkpoint.classes,
                             features.features.shape[1])
        except BankError as exc:
            notes.append(f"{exc}; familiarity was computed from this dataset's training images instead")
    return make_bank(features, loaded.checkpoint.classes, loaded.checksum)


def _csv_text(features: FeatureSet, classes: list[str], scores: np.ndarray, points: np.ndarray) -> bytes:
    probabilities = features.probabilities
    predictions = features.predictions
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_HEADER)
    for i in range(len(features)):
        writer.writerow([features.ids[i], _SPLIT_NAMES.get(int(features.splits[i]), "other"),
                         classes[int(features.labels[i])], classes[int(predictions[i])],
                         f"{probabilities[i, predictions[i]]:.4f}", f"{scores[i]:.4f}",
                         f"{points[i, 0]:.5g}", f"{points[i, 1]:.5g}"])
    return text.getvalue().encode("utf-8", "surrogateescape")  # file names that are not UTF-8 survive


def embed(checkpoint, dataset: str | os.PathLike | None = None, out_dir: str | os.PathLike = ".",
          method: str = "pca", *, device: str = "cpu", batch_size: int = 256, seed: int = 0, progress=None,
          cancelled=None) -> EmbedResult:
    """Write out_dir/map.csv (path, split, label, prediction, probability, familiarity, x, y) and
    out_dir/map.png for the training + validation images of `dataset` (the checkpoint's own by default)."""
    tracker = steps(progress, cancelled)
    features, loaded = checkpoint_features(checkpoint, dataset, device=device, batch_size=batch_size,
                                           progress=tracker)
    notes: list[str] = []
    bank = _bank(loaded, features, notes)
    scores = familiarity_scores(bank, features.features, ids=features.ids)
    familiar = scores >= bank.calibration.threshold
    projection = project(features.features, method, seed=seed, progress=tracker)
    points = projection.points
    classes = list(loaded.checkpoint.classes)
    out = Path(out_dir)
    csv_path = atomic_write(out / MAP_CSV, lambda fh: fh.write(_csv_text(features, classes, scores, points)))
    title = f"{method.upper() if method != 'tsne' else 't-SNE'} of {len(features):,} images; x: unfamiliar"
    png_path = scatter_png(out / MAP_PNG, points, features.labels, classes,
                           val=features.splits == SPLIT_CODES["val"], marked=~familiar, title=title)
    return EmbedResult(csv_path, png_path, features, projection, scores, familiar, classes, notes)
