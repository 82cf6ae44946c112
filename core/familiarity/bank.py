"""The feature bank: what scoring a new image needs, with no dataset at hand.

- The L2-normalised penultimate features of the training images (all of them up to MAX_ROWS, else a seeded
  random sample: Sun et al. show a sample keeps k-NN detection nearly as good), their labels and ids (for the
  nearest images), and the k used.
- One ViewBank per block view of the model (views.py): for a k-NN view the normalised rows of up to
  MAX_VIEW_ROWS training images, for a Mahalanobis view the class means and shared precision (gaussian.py).
- The calibration: each view's distances for the validation images (a view's p-value for a new image is the
  share of validation images farther than it), and the validation images' combined value: Fisher's
  -sum(log p) over the penultimate and every view (larger = less familiar). The familiarity score is
  calibrated on that combined value (calibration.py). Also the energies (-logsumexp of the logits) that the
  benchmark compares with.
Made for one set of weights; the file (bank_file.py) carries that weights checksum.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.familiarity.calibration import Calibration
from core.familiarity.errors import FamiliarityError
from core.familiarity.features import FeatureSet
from core.familiarity.gaussian import Gaussians, fit_gaussians, nearest_class_distance
from core.familiarity.knn import default_k, energy, kth_distance, normalise
from core.familiarity.views import View

MAX_ROWS = 50_000
MAX_VIEW_ROWS = 10_000  # rows of each k-NN view: a dropped image is scored in a few ms on top of the penultimate
MIN_VAL_IMAGES = 10  # fewer validation images than this: calibrate on the training images, one left out at a time
SMALLEST_P = 1e-300  # a p-value of 0 (far beyond every reference) still adds a finite amount


@dataclass
class ViewBank:
    view: View
    reference: np.ndarray  # float32 [M]: the calibration images' distances in this view
    features: torch.Tensor | None = None  # k-NN: float32 [R, d] unit rows of the training images in `view_rows`
    gaussians: Gaussians | None = None  # Mahalanobis: class means and shared precision
    _calibration: Calibration | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def dim(self) -> int:
        return int(self.features.shape[1]) if self.features is not None else self.gaussians.dim

    @property
    def calibration(self) -> Calibration:
        if self._calibration is None:
            self._calibration = Calibration(self.reference)
        return self._calibration


@dataclass
class FeatureBank:
    features: torch.Tensor  # float32 [N, D], unit rows, the training images
    labels: np.ndarray  # int64 [N]
    ids: list[str]  # [N] paths or in-memory ids
    classes: list[str]
    k: int
    reference: np.ndarray  # float32 [M]: the calibration images' k-th-neighbour distances (penultimate)
    energy_reference: np.ndarray  # float32 [M]: their energies (-logsumexp of the logits)
    weights_checksum: str
    calibrated_on: str = "val"  # or "train" (each image left out of its own neighbours)
    views: list[ViewBank] = field(default_factory=list)
    view_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # bank rows of the k-NN views
    combined_reference: np.ndarray | None = None  # float32 [M]: the calibration images' combined values
    _rows: dict | None = field(default=None, init=False, repr=False, compare=False)
    _calibrations: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.combined_reference is None:  # the penultimate alone: its p-values are the combined value
            if self.views:
                raise FamiliarityError("a bank with block views needs the combined values of its calibration")
            self.combined_reference = combine([Calibration(self.reference).scores(self.reference)])

    @property
    def view_k(self) -> int:
        """The k of the k-NN views (their banks may hold fewer rows than the penultimate's)."""
        return max(1, min(self.k, len(self.view_rows) - 1))

    def row_of(self, item_id: str) -> int:
        """The bank row of a training image by its id, or -1."""
        if self._rows is None:
            self._rows = {name: i for i, name in enumerate(self.ids)}
        return self._rows.get(item_id, -1)

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def penultimate_calibration(self) -> Calibration:
        """p-values of the penultimate k-NN distance (made once: scoring a dropped image must not sort)."""
        if "knn" not in self._calibrations:
            self._calibrations["knn"] = Calibration(self.reference)
        return self._calibrations["knn"]

    @property
    def calibration(self) -> Calibration:
        """The familiarity score: from the combined value of the penultimate and every view."""
        if "combined" not in self._calibrations:
            self._calibrations["combined"] = Calibration(self.combined_reference)
        return self._calibrations["combined"]

    @property
    def energy_calibration(self) -> Calibration:
        if "energy" not in self._calibrations:
            self._calibrations["energy"] = Calibration(self.energy_reference)
        return self._calibrations["energy"]


def combine(p_values: list[np.ndarray]) -> np.ndarray:
    """Fisher's method: -sum(log p) over the views (larger = less familiar), as float32."""
    total = np.zeros_like(np.asarray(p_values[0], dtype=np.float64))
    for p in p_values:
        total -= np.log(np.clip(np.asarray(p, dtype=np.float64), SMALLEST_P, 1.0))
    return total.astype(np.float32)


def _sample(count: int, max_rows: int, seed: int) -> np.ndarray:
    if count <= max_rows:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=max_rows, replace=False))


def view_distances(view: ViewBank, x: np.ndarray, k: int, *, exclude_self: bool = False) -> np.ndarray:
    """[M] raw distances of the rows `x` [M, d] in one view (k-NN: the k-th neighbour; Mahalanobis: the
    nearest class). exclude_self: `x` are the view's own bank rows in order (a k-NN view only)."""
    if view.view.metric == "knn":
        rows = view.features
        return kth_distance(rows, rows if exclude_self else normalise(x), k, exclude_self=exclude_self)
    return nearest_class_distance(view.gaussians, x)


def _fit_view(view: View, train: FeatureSet, rows: np.ndarray, classes: int) -> ViewBank:
    values = train.views[view.name]
    if view.metric == "knn":  # rounded to float16 as the file stores them: a loaded bank scores the same
        return ViewBank(view, np.zeros(0, np.float32), features=normalise(values[rows]).half().float().contiguous())
    return ViewBank(view, np.zeros(0, np.float32), gaussians=fit_gaussians(values, train.labels, classes))


def make_bank(features: FeatureSet, classes: list[str], weights_checksum: str, *, k: int | None = None,
              views: list[View] | None = None, max_rows: int = MAX_ROWS, max_view_rows: int = MAX_VIEW_ROWS,
              seed: int = 0) -> FeatureBank:
    """A bank from one feature pass over the training ('train') and validation ('val') images. views: which
    of the pass's views to use (None: all it holds, in its order)."""
    train, val = features.split("train"), features.split("val")
    if len(train) < 2:
        raise FamiliarityError("familiarity needs at least 2 training images")
    names = list(features.views) if views is None else [v.name for v in views]
    missing = [name for name in names if name not in features.views]
    if missing:
        raise FamiliarityError(f"the feature pass has no view {missing[0]}: run it again with these views")
    train = train.subset(_sample(len(train), max_rows, seed))
    bank = normalise(train.features).half().float().contiguous()
    k = max(1, min(default_k(len(train)) if k is None else int(k), len(train) - 1))
    view_rows = _sample(len(train), max_view_rows, seed + 1) if names else np.zeros(0, np.int64)
    k_view = max(1, min(k, len(view_rows) - 1))  # FeatureBank.view_k
    fitted = [_fit_view(View.from_name(name), train, view_rows, len(classes)) for name in names]
    on = "val" if len(val) >= MIN_VAL_IMAGES else "train"
    if on == "val":
        reference = kth_distance(bank, normalise(val.features), k)
        energies = energy(val.logits)
        for view in fitted:
            view.reference = view_distances(view, val.views[view.view.name], k_view).astype(np.float32)
    else:  # too few validation images to calibrate on: training images against the others
        reference = kth_distance(bank, bank, k, exclude_self=True)
        energies = energy(train.logits)
        for view in fitted:  # the k-NN views' own rows, each left out of its own neighbours
            own = view.view.metric == "knn"
            values = train.views[view.view.name][view_rows]
            view.reference = view_distances(view, values, k_view, exclude_self=own).astype(np.float32)
        reference = reference[view_rows] if fitted else reference
        energies = energies[view_rows] if fitted else energies
    reference = reference.astype(np.float32)
    pen = Calibration(reference)
    combined = combine([pen.scores(reference)] + [v.calibration.scores(v.reference) for v in fitted])
    return FeatureBank(bank, train.labels.copy(), list(train.ids), list(classes), k, reference,
                       energies.astype(np.float32), weights_checksum, on, fitted, view_rows.astype(np.int64),
                       combined)
