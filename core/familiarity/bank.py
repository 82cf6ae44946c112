"""The feature bank: what scoring a new image needs, with no dataset at hand.

The L2-normalised penultimate features of the training images (all of them up to MAX_ROWS, else a seeded
random sample: Sun et al. show a sample keeps k-NN detection nearly as good), their labels and ids (for the
nearest images), the k used, and the calibration: the validation images' k-th-neighbour distances and
energies. Made for one set of weights; the file (bank_file.py) carries that weights checksum.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.familiarity.calibration import Calibration
from core.familiarity.errors import FamiliarityError
from core.familiarity.features import FeatureSet
from core.familiarity.knn import default_k, energy, kth_distance, normalise

MAX_ROWS = 50_000
MIN_VAL_IMAGES = 10  # fewer validation images than this: calibrate on the training images, one left out at a time


@dataclass
class FeatureBank:
    features: torch.Tensor  # float32 [N, D], unit rows, the training images
    labels: np.ndarray  # int64 [N]
    ids: list[str]  # [N] paths or in-memory ids
    classes: list[str]
    k: int
    reference: np.ndarray  # float32 [M]: the calibration images' k-th-neighbour distances
    energy_reference: np.ndarray  # float32 [M]: their energies (-logsumexp of the logits)
    weights_checksum: str
    calibrated_on: str = "val"  # or "train" (each image left out of its own neighbours)
    _rows: dict | None = field(default=None, init=False, repr=False, compare=False)
    _calibrations: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def row_of(self, item_id: str) -> int:
        """The bank row of a training image by its id, or -1."""
        if self._rows is None:
            self._rows = {name: i for i, name in enumerate(self.ids)}
        return self._rows.get(item_id, -1)

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def calibration(self) -> Calibration:
        """Scores from k-NN distances (made once: scoring a dropped image must not sort the references)."""
        if "knn" not in self._calibrations:
            self._calibrations["knn"] = Calibration(self.reference)
        return self._calibrations["knn"]

    @property
    def energy_calibration(self) -> Calibration:
        if "energy" not in self._calibrations:
            self._calibrations["energy"] = Calibration(self.energy_reference)
        return self._calibrations["energy"]


def _bank_rows(count: int, max_rows: int, seed: int) -> np.ndarray:
    if count <= max_rows:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=max_rows, replace=False))


def make_bank(features: FeatureSet, classes: list[str], weights_checksum: str, *, k: int | None = None,
              max_rows: int = MAX_ROWS, seed: int = 0) -> FeatureBank:
    """A bank from one feature pass over the training ('train') and validation ('val') images."""
    train, val = features.split("train"), features.split("val")
    if len(train) < 2:
        raise FamiliarityError("familiarity needs at least 2 training images")
    rows = _bank_rows(len(train), max_rows, seed)
    train = train.subset(rows)
    # Rounded to float16 here, as the file stores them, so a loaded bank scores exactly like this one.
    bank = normalise(train.features).half().float().contiguous()
    k = max(1, min(default_k(len(train)) if k is None else int(k), len(train) - 1))
    if len(val) >= MIN_VAL_IMAGES:
        reference = kth_distance(bank, normalise(val.features), k)
        energies, on = energy(val.logits), "val"
    else:  # too few validation images to calibrate on: each training image against the others
        reference = kth_distance(bank, bank, k, exclude_self=True)
        energies, on = energy(train.logits), "train"
    return FeatureBank(bank, train.labels.copy(), list(train.ids), list(classes), k,
                       reference.astype(np.float32), energies.astype(np.float32), weights_checksum, on)
