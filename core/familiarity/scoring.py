"""Familiarity of new images against a bank: a score, a yes/no at the calibrated threshold, and the nearest
training images. `Familiarity.to_dict()` is the object `predict --json` prints for each image:
{"score": 0.12, "familiar": false, "threshold": 0.61, "nearest": [{"path": ..., "label": ..., "distance": ...}]}.

What is scored: a FeatureSet (features.py) with the penultimate features and the views the bank holds, from
the same forward as the prediction; a bare array is the penultimate features alone (a bank without views).
The score combines the penultimate k-NN distance with each view's distance (bank.py, Fisher's method); the
nearest images and their distances are the penultimate k-NN's, what the classes are told apart by.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.familiarity.bank import FeatureBank, combine, view_distances
from core.familiarity.errors import FamiliarityError
from core.familiarity.features import FeatureSet, images_features
from core.familiarity.knn import nearest, normalise

NEAREST_SHOWN = 5
UNKNOWN = "familiarity unknown"  # what a checkpoint without a bank says


@dataclass
class Neighbour:
    path: str  # a file path, or an in-memory id ("shapes:train/00012", see core/evaluate/images.py)
    label: str
    distance: float

    def to_dict(self) -> dict:
        return {"path": self.path, "label": self.label, "distance": round(float(self.distance), 4)}


@dataclass
class Familiarity:
    score: float  # in [0, 1]: the share of validation images less like the training images (calibration.py)
    familiar: bool
    threshold: float  # the score at which 95 % of validation images count as familiar
    nearest: list[Neighbour] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"score": round(float(self.score), 4), "familiar": bool(self.familiar),
                "threshold": round(float(self.threshold), 4), "nearest": [n.to_dict() for n in self.nearest]}


def _as_set(features) -> FeatureSet:
    if isinstance(features, FeatureSet):
        return features
    x = features.detach().cpu().numpy() if torch.is_tensor(features) else np.asarray(features, dtype=np.float32)
    return images_features(x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1))


def _penultimate_rows(bank: FeatureBank, features: FeatureSet) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(features.features, dtype=np.float32))
    if x.shape[1] != bank.dim:
        raise FamiliarityError(f"the image's features have {x.shape[1]} values but the bank's have {bank.dim}: "
                               "the bank belongs to another model")
    return normalise(x)


def _view_values(bank: FeatureBank, features: FeatureSet, name: str, dim: int) -> np.ndarray:
    values = features.views.get(name)
    if values is None:
        raise FamiliarityError(f"the images were not seen through the bank's view {name}: score them with the "
                               "model the bank was made for (core.familiarity.jobs.score_inputs)")
    if values.shape[1] != dim:
        raise FamiliarityError(f"view {name}: the image has {values.shape[1]} values, the bank {dim}")
    return values


def _combined(bank: FeatureBank, features: FeatureSet, penultimate_kth: np.ndarray,
              ids: list[str] | None = None) -> np.ndarray:
    """Fisher's combination of the penultimate's and every view's p-value (larger = less familiar)."""
    p_values = [bank.penultimate_calibration.scores(penultimate_kth)]
    for view in bank.views:
        values = _view_values(bank, features, view.view.name, view.dim)
        if ids is not None and view.view.metric == "knn":
            distances = _kth_without_self(view.features, normalise(values), bank.view_k,
                                          _own_rows(bank, ids, view_rows=True))
        else:
            distances = view_distances(view, values, bank.view_k)
        p_values.append(view.calibration.scores(distances))
    return combine(p_values)


def _own_rows(bank: FeatureBank, ids: list[str], view_rows: bool = False) -> torch.Tensor:
    rows = np.array([bank.row_of(name) for name in ids], dtype=np.int64)
    if view_rows:  # the row in the views' sample, or -1
        where = {int(r): i for i, r in enumerate(bank.view_rows)}
        rows = np.array([where.get(int(r), -1) if r >= 0 else -1 for r in rows], dtype=np.int64)
    return torch.from_numpy(rows)


def _kth_without_self(rows: torch.Tensor, queries: torch.Tensor, k: int, own: torch.Tensor) -> np.ndarray:
    """The k-th neighbour distance of each query, not counting the query's own bank row (`own`, -1: none)."""
    distances, where = nearest(rows, queries, k + 1)
    k = min(k, distances.shape[1] - 1)
    own_among_first_k = (where[:, :k] == own[:, None]).any(dim=1)
    return torch.where(own_among_first_k, distances[:, k], distances[:, k - 1]).numpy()


def kth_distances(bank: FeatureBank, features, ids: list[str] | None = None) -> np.ndarray:
    """The raw penultimate k-NN distance of each image (Sun et al.; larger = less familiar). With `ids`, an
    image that is itself in the bank (a training image) is not counted as its own neighbour."""
    features = _as_set(features)
    rows = _penultimate_rows(bank, features)
    if ids is None:
        distances, _ = nearest(bank.features, rows, bank.k)
        return distances[:, -1].numpy()
    return _kth_without_self(bank.features, rows, bank.k, _own_rows(bank, ids))


def combined_values(bank: FeatureBank, features, ids: list[str] | None = None) -> np.ndarray:
    """The raw combined value of each image (larger = less familiar), what the score is calibrated on."""
    features = _as_set(features)
    return _combined(bank, features, kth_distances(bank, features, ids), ids)


def familiarity_scores(bank: FeatureBank, features, ids: list[str] | None = None) -> np.ndarray:
    """Scores in [0, 1] for many images at once (the map's colour, the evaluation column). `ids`: the images'
    ids, so a training image is not its own neighbour."""
    return bank.calibration.scores(combined_values(bank, features, ids))


def familiarity_many(bank: FeatureBank, features, shown: int = NEAREST_SHOWN) -> list[Familiarity]:
    """One Familiarity per image of `features` (a FeatureSet with the bank's views, or raw penultimate
    features [M, D] for a bank without views), with its `shown` nearest training images."""
    features = _as_set(features)
    rows = _penultimate_rows(bank, features)
    distances, where = nearest(bank.features, rows, max(bank.k, shown))
    kth = distances[:, min(bank.k, distances.shape[1]) - 1].numpy()
    values = _combined(bank, features, kth)
    calibration = bank.calibration
    scores, familiar, threshold = calibration.scores(values), calibration.familiar(values), calibration.threshold
    out = []
    for i in range(rows.shape[0]):
        near = [Neighbour(bank.ids[j], bank.classes[int(bank.labels[j])], float(d))
                for d, j in zip(distances[i, :shown].tolist(), where[i, :shown].tolist())]
        out.append(Familiarity(float(scores[i]), bool(familiar[i]), threshold, near))
    return out


def familiarity_of(bank: FeatureBank, features, shown: int = NEAREST_SHOWN) -> Familiarity:
    """The familiarity of one image (a FeatureSet of one row, or its penultimate features [D] / [1, D])."""
    return familiarity_many(bank, features, shown)[0]
