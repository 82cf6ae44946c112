"""The learning curve: accuracy = a - b * n^-c against n training images per class (the standard power law),
fitted with scipy.optimize.curve_fit, extrapolated to 2x and 4x the largest n. The band comes from a
parametric bootstrap: each measured accuracy is redrawn as a binomial proportion over its validation images
(the noise a measurement of accuracy really has), the curve refitted, and the 5th-95th percentiles kept.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

BOOTSTRAP = 200
BAND = (5.0, 95.0)
MULTIPLES = (2, 4)


def power_law(n, a, b, c):
    return a - b * np.power(n, -c)


@dataclass
class CurveFit:
    a: float
    b: float
    c: float
    n_max: float  # the most training images per class measured
    measured_max: float  # the accuracy the curve gives at n_max
    predictions: dict[int, float] = field(default_factory=dict)  # multiple -> accuracy
    bands: dict[int, tuple[float, float]] = field(default_factory=dict)  # multiple -> (low, high) accuracy

    def at(self, n) -> np.ndarray:
        return power_law(np.asarray(n, dtype=np.float64), self.a, self.b, self.c)

    def gain(self, multiple: int = 2) -> tuple[float, float, float]:
        """(about, low, high) accuracy points gained at `multiple` x the data."""
        base = self.measured_max
        low, high = self.bands.get(multiple, (self.predictions[multiple],) * 2)
        return tuple(round(100 * (v - base), 1) for v in (self.predictions[multiple], low, high))

    def sentence(self) -> str:
        about, low, high = self.gain(2)
        return f"doubling the photos would raise accuracy by about {about:g} points (between {low:g} and {high:g})"

    def to_dict(self) -> dict:
        return {"form": "acc = a - b * n^-c", "a": round(self.a, 5), "b": round(self.b, 5), "c": round(self.c, 5),
                "n_per_class": round(self.n_max, 2), "accuracy_at_n": round(self.measured_max, 4),
                "extrapolations": {f"{m}x": {"n_per_class": round(self.n_max * m, 2),
                                             "accuracy": round(self.predictions[m], 4),
                                             "band": [round(v, 4) for v in self.bands.get(m, ())]}
                                   for m in self.predictions},
                "sentence": self.sentence()}


def _fit_once(n: np.ndarray, acc: np.ndarray) -> tuple[float, float, float] | None:
    from scipy.optimize import curve_fit

    top = float(acc.max())
    p0 = (min(1.0, top + 0.05), max(1e-3, (top + 0.05 - float(acc.min())) * float(n.min()) ** 0.5), 0.5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = curve_fit(power_law, n, acc, p0=p0, bounds=([0.0, 0.0, 0.05], [1.0, np.inf, 3.0]),
                                  maxfev=5000)
    except (RuntimeError, ValueError):
        return None
    return tuple(float(v) for v in params)


def fit_curve(n_per_class, accuracy, val_counts=None, *, seed: int = 0, bootstrap: int = BOOTSTRAP) -> CurveFit | None:
    """The fitted curve of `accuracy` (in [0, 1]) against training images per class, or None when it cannot
    be fitted (fewer than 3 distinct sizes). val_counts: the validation images each accuracy was measured
    on (the bootstrap's noise; without them the band is the curve itself)."""
    n = np.asarray(n_per_class, dtype=np.float64)
    acc = np.asarray(accuracy, dtype=np.float64)
    if len(np.unique(n)) < 3 or len(n) != len(acc):
        return None
    params = _fit_once(n, acc)
    if params is None:
        return None
    n_max = float(n.max())
    fit = CurveFit(*params, n_max=n_max, measured_max=float(power_law(n_max, *params)))
    fit.predictions = {m: float(power_law(n_max * m, *params)) for m in MULTIPLES}
    if val_counts is not None and bootstrap > 0:
        counts = np.maximum(1, np.asarray(val_counts, dtype=np.int64))
        rng = np.random.default_rng(seed)
        draws = {m: [] for m in MULTIPLES}
        for _ in range(bootstrap):
            redrawn = rng.binomial(counts, np.clip(acc, 0, 1)) / counts
            p = _fit_once(n, redrawn)
            if p is None:
                continue
            base = power_law(n_max, *p)
            for m in MULTIPLES:  # the gain of the redrawn curve, added to the fitted base
                draws[m].append(fit.measured_max + power_law(n_max * m, *p) - base)
        for m, values in draws.items():
            if len(values) >= 10:
                low, high = np.percentile(values, BAND)
                fit.bands[m] = (float(min(low, fit.predictions[m])), float(max(high, fit.predictions[m])))
    return fit


def classes_needing_photos(n_per_class, per_class_accuracy: dict[str, list[float]], top: int = 3
                           ) -> list[dict]:
    """The classes whose own curve gains most from doubling (the slope of the last two points on a log2
    axis when a class's curve cannot be fitted), most first, with their accuracy now."""
    n = np.asarray(n_per_class, dtype=np.float64)
    rows = []
    for name, values in per_class_accuracy.items():
        acc = np.asarray(values, dtype=np.float64)
        fitted = fit_curve(n, acc, bootstrap=0)
        if fitted is not None:
            gain = fitted.predictions[2] - fitted.measured_max
        else:
            order = np.argsort(n)
            x, y = np.log2(n[order][-2:]), acc[order][-2:]
            gain = float((y[1] - y[0]) / (x[1] - x[0])) if len(x) == 2 and x[1] > x[0] else 0.0
        rows.append({"class": name, "accuracy": round(float(acc[np.argmax(n)]), 4),
                     "gain_2x_points": round(100 * max(0.0, gain), 1)})
    rows.sort(key=lambda r: (-r["gain_2x_points"], r["accuracy"]))
    return rows[:top]

