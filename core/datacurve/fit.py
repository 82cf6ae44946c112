"""The learning curve of accuracy against n training images per class, in one of two forms, whichever fits the
measured points better (both have three free parameters, so the smaller squared error decides):
  power     acc = a - b * n^-c                                   the standard power law;
  logistic  acc = chance + (a - chance) / (1 + exp(-b (ln n - c)))  a logistic in ln n that starts at chance.
The second is the power law at large n (acc ~ a - (a - chance) e^(bc) n^-b) and flattens to chance at small n: the
"small-data region" below the power-law region (Hestness et al. 2017), where small subsets sit and the points rise
faster and faster in ln n, which a power law (always concave there) cannot follow and so under-predicts. Fitted
with scipy.optimize.curve_fit and extrapolated to 2x and 4x the largest n. The band comes from a parametric
bootstrap: each measured accuracy is redrawn as a binomial proportion over its validation images (the noise a
measurement of accuracy really has), the curve refitted in the same form, and the 5th-95th percentiles kept.
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


def logistic_from_chance(n, a, b, c, chance):
    return chance + (a - chance) / (1 + np.exp(-b * (np.log(n) - c)))


FORMULAS = {"power": "acc = a - b * n^-c", "logistic": "acc = chance + (a - chance) / (1 + exp(-b * (ln n - c)))"}


def curve_value(form: str, n, a: float, b: float, c: float, chance: float = 0.0) -> np.ndarray:
    """The curve of `form` with parameters (a, b, c) at n images per class (what curve.json's fit describes)."""
    n = np.asarray(n, dtype=np.float64)
    if form == "logistic":
        return logistic_from_chance(n, a, b, c, chance)
    return power_law(n, a, b, c)


@dataclass
class CurveFit:
    a: float
    b: float
    c: float
    n_max: float  # the most training images per class measured
    measured_max: float  # the accuracy the curve gives at n_max
    predictions: dict[int, float] = field(default_factory=dict)  # multiple -> accuracy
    bands: dict[int, tuple[float, float]] = field(default_factory=dict)  # multiple -> (low, high) accuracy
    form: str = "power"  # a key of FORMULAS
    chance: float = 0.0  # the logistic's floor: 1 / classes

    def at(self, n) -> np.ndarray:
        return curve_value(self.form, n, self.a, self.b, self.c, self.chance)

    def gain(self, multiple: int = 2) -> tuple[float, float, float]:
        """(about, low, high) accuracy points gained at `multiple` x the data."""
        base = self.measured_max
        low, high = self.bands.get(multiple, (self.predictions[multiple],) * 2)
        return tuple(round(100 * (v - base), 1) for v in (self.predictions[multiple], low, high))

    def sentence(self) -> str:
        about, low, high = self.gain(2)
        return f"doubling the photos would raise accuracy by about {about:g} points (between {low:g} and {high:g})"

    def to_dict(self) -> dict:
        return {"form": self.form, "formula": FORMULAS[self.form], "chance": round(self.chance, 5),
                "a": round(self.a, 5), "b": round(self.b, 5), "c": round(self.c, 5),
                "n_per_class": round(self.n_max, 2), "accuracy_at_n": round(self.measured_max, 4),
                "extrapolations": {f"{m}x": {"n_per_class": round(self.n_max * m, 2),
                                             "accuracy": round(self.predictions[m], 4),
                                             "band": [round(v, 4) for v in self.bands.get(m, ())]}
                                   for m in self.predictions},
                "sentence": self.sentence()}


def _fit_power(n: np.ndarray, acc: np.ndarray) -> tuple[float, float, float] | None:
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


def _fit_logistic(n: np.ndarray, acc: np.ndarray, chance: float) -> tuple[float, float, float] | None:
    from scipy.optimize import curve_fit

    def curve(x, a, b, c):
        return logistic_from_chance(x, a, b, c, chance)

    p0 = (min(1.0, max(chance + 0.01, float(acc.max()) + 0.05)), 1.0, float(np.log(n).mean()))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = curve_fit(curve, n, acc, p0=p0, bounds=([chance, 0.01, -5.0], [1.0, 20.0, 25.0]),
                                  maxfev=20000)
    except (RuntimeError, ValueError):
        return None
    return tuple(float(v) for v in params)


def _fit_form(form: str, n: np.ndarray, acc: np.ndarray, chance: float) -> tuple[float, float, float] | None:
    return _fit_logistic(n, acc, chance) if form == "logistic" else _fit_power(n, acc)


def _best_form(n: np.ndarray, acc: np.ndarray, chance: float | None) -> tuple[str, tuple[float, float, float]] | None:
    """The form (and its parameters) with the smaller squared error; the power law alone without a chance level."""
    fitted = []
    for form in ("power", "logistic") if chance is not None else ("power",):
        params = _fit_form(form, n, acc, chance or 0.0)
        if params is not None:
            error = float(np.sum((curve_value(form, n, *params, chance or 0.0) - acc) ** 2))
            fitted.append((error, form, params))
    if not fitted:
        return None
    _, form, params = min(fitted, key=lambda f: f[0])
    return form, params


def fit_curve(n_per_class, accuracy, val_counts=None, *, chance: float | None = None, seed: int = 0,
              bootstrap: int = BOOTSTRAP) -> CurveFit | None:
    """The fitted curve of `accuracy` (in [0, 1]) against training images per class, or None when it cannot
    be fitted (fewer than 3 distinct sizes). chance: the accuracy of guessing (1 / classes), which lets the
    logistic form compete with the power law. val_counts: the validation images each accuracy was measured
    on (the bootstrap's noise; without them the band is the curve itself)."""
    n = np.asarray(n_per_class, dtype=np.float64)
    acc = np.asarray(accuracy, dtype=np.float64)
    if len(np.unique(n)) < 3 or len(n) != len(acc):
        return None
    best = _best_form(n, acc, chance)
    if best is None:
        return None
    form, params = best
    floor = chance or 0.0
    n_max = float(n.max())
    fit = CurveFit(*params, n_max=n_max, measured_max=float(curve_value(form, n_max, *params, floor)),
                   form=form, chance=floor)
    fit.predictions = {m: float(fit.at(n_max * m)) for m in MULTIPLES}
    if val_counts is not None and bootstrap > 0:
        counts = np.maximum(1, np.asarray(val_counts, dtype=np.int64))
        rng = np.random.default_rng(seed)
        draws = {m: [] for m in MULTIPLES}
        for _ in range(bootstrap):
            redrawn = rng.binomial(counts, np.clip(acc, 0, 1)) / counts
            p = _fit_form(form, n, redrawn, floor)
            if p is None:
                continue
            base = curve_value(form, n_max, *p, floor)
            for m in MULTIPLES:  # the gain of the redrawn curve, added to the fitted base
                draws[m].append(fit.measured_max + curve_value(form, n_max * m, *p, floor) - base)
        for m, values in draws.items():
            if len(values) >= 10:
                low, high = np.percentile(values, BAND)
                fit.bands[m] = (float(min(low, fit.predictions[m])), float(max(high, fit.predictions[m])))
    return fit


def classes_needing_photos(n_per_class, per_class_accuracy: dict[str, list[float]], top: int = 3,
                           chance: float | None = None) -> list[dict]:
    """The classes whose own curve gains most from doubling (the slope of the last two points on a log2
    axis when a class's curve cannot be fitted), most first, with their accuracy now."""
    n = np.asarray(n_per_class, dtype=np.float64)
    rows = []
    for name, values in per_class_accuracy.items():
        acc = np.asarray(values, dtype=np.float64)
        fitted = fit_curve(n, acc, chance=chance, bootstrap=0)
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

