"""Familiarity of new images against a bank: a score, a yes/no at the calibrated threshold, and the nearest
training images. `Familiarity.to_dict()` is the object `predict --json` prints for each image:
{"score": 0.12, "familiar": false, "threshold": 0.61, "nearest": [{"path": ..., "label": ..., "distance": ...}]}.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.familiarity.bank import FeatureBank
from core.familiarity.errors import FamiliarityError
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


def _as_rows(bank: FeatureBank, features) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(features, dtype=np.float32)) if not torch.is_tensor(features) else features
    x = x.detach().to("cpu").float().reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)
    if x.shape[1] != bank.dim:
        raise FamiliarityError(f"the image's features have {x.shape[1]} values but the bank's have {bank.dim}: "
                               "the bank belongs to another model")
    return normalise(x)


def kth_distances(bank: FeatureBank, features, ids: list[str] | None = None) -> np.ndarray:
    """The raw k-NN distance of each row of `features` (larger = less familiar). With `ids`, an image that is
    itself in the bank (a training image) is not counted as its own neighbour."""
    rows = _as_rows(bank, features)
    if ids is None:
        distances, _ = nearest(bank.features, rows, bank.k)
        return distances[:, -1].numpy()
    distances, where = nearest(bank.features, rows, bank.k + 1)
    k = min(bank.k, distances.shape[1] - 1)
    own = torch.tensor([bank.row_of(name) for name in ids], dtype=torch.long)
    own_among_first_k = (where[:, :k] == own[:, None]).any(dim=1)
    return torch.where(own_among_first_k, distances[:, k], distances[:, k - 1]).numpy()


def familiarity_scores(bank: FeatureBank, features, ids: list[str] | None = None) -> np.ndarray:
    """Scores in [0, 1] for many images at once (the map's colour, the evaluation column)."""
    return bank.calibration.scores(kth_distances(bank, features, ids))


def familiarity_many(bank: FeatureBank, features, shown: int = NEAREST_SHOWN) -> list[Familiarity]:
    """One Familiarity per row of `features` [M, D] (raw penultimate features), with its `shown` nearest."""
    rows = _as_rows(bank, features)
    distances, where = nearest(bank.features, rows, max(bank.k, shown))
    kth = distances[:, min(bank.k, distances.shape[1]) - 1].numpy()
    calibration = bank.calibration
    scores, familiar, threshold = calibration.scores(kth), calibration.familiar(kth), calibration.threshold
    out = []
    for i in range(rows.shape[0]):
        near = [Neighbour(bank.ids[j], bank.classes[int(bank.labels[j])], float(d))
                for d, j in zip(distances[i, :shown].tolist(), where[i, :shown].tolist())]
        out.append(Familiarity(float(scores[i]), bool(familiar[i]), threshold, near))
    return out


def familiarity_of(bank: FeatureBank, features, shown: int = NEAREST_SHOWN) -> Familiarity:
    """The familiarity of one image from its penultimate features [D] (or [1, D])."""
    return familiarity_many(bank, features, shown)[0]
