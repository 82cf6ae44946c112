"""From a raw out-of-distribution distance to a familiarity score in [0, 1], calibrated on validation images.

The score of an image is the share of validation images that are farther from the training images than it
is (the survival function of their k-th-neighbour distances, interpolated between them): 0.40 means that
40 % of the validation images look less like the training images than this one does. Validation images
therefore score evenly between 0 and 1, and the threshold is the score at the 95th percentile of their
distances (about 0.05): 95 % of validation images count as familiar. Beyond the farthest validation image
the score keeps falling exponentially (with the spread of the validation distances as its scale), so very
strange images still sort below merely unusual ones instead of all tying at 0.

It says "unlike the training images as this model sees them", not "wrong": a small model trained on few
photos sees little, and an image of a known class in an unusual setting may well score low.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FAMILIAR_SHARE = 0.95  # the share of validation images that count as familiar


@dataclass(frozen=True)
class Calibration:
    reference: np.ndarray  # the validation images' raw values (larger = less familiar), any order
    threshold_value: float = field(init=False)  # the raw value within which FAMILIAR_SHARE of them lie
    spread: float = field(init=False)  # the tail's scale: median to threshold (never zero)
    threshold: float = field(init=False)  # the score at threshold_value: familiar when the score is at least this
    _xp: np.ndarray = field(init=False, repr=False)
    _fp: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        values = np.sort(np.asarray(self.reference, dtype=np.float64).reshape(-1))
        if values.size == 0 or not np.isfinite(values).all():
            raise ValueError("a calibration needs at least one finite reference value")
        threshold = float(np.quantile(values, FAMILIAR_SHARE))
        gap = threshold - float(np.median(values))
        object.__setattr__(self, "reference", values)
        object.__setattr__(self, "threshold_value", threshold)
        object.__setattr__(self, "spread", max(gap, 1e-6, 1e-3 * abs(threshold)))
        n = len(values)  # the curve: (value, share of references farther), from a point above all of them
        object.__setattr__(self, "_xp", np.concatenate([[values[0] - self.spread], values]))
        object.__setattr__(self, "_fp", np.concatenate([[1.0], 1.0 - (np.arange(n) + 0.5) / n]))
        object.__setattr__(self, "threshold", float(self.scores(np.array([threshold]))[0]))

    def scores(self, values) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        out = np.interp(v, self._xp, self._fp)
        beyond = v > self.reference[-1]
        out[beyond] = self._fp[-1] * np.exp(-(v[beyond] - self.reference[-1]) / self.spread)
        out[np.isnan(v)] = 0.0  # a diverged model: nothing is familiar
        return np.clip(out, 0.0, 1.0)

    def familiar(self, values) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        return v <= self.threshold_value
