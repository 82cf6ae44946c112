"""From a range test's smoothed loss curve to a suggested BAND of learning rates, with the usual single-point
suggestions as marks inside it. One number is known to mislead (torch-lr-finder#106, lightning#21141: the
steepest point of a noisy curve jumps between runs), so the band and the curve are what a user reads.

The band runs from the steepest descent (or one decade below the minimum, whichever is lower) up to a third of
the learning rate at the minimum: the loss falls fast there, and the bottom itself is already too close to
where it explodes for a whole run. Marks:
- steepest: where the smoothed loss falls fastest per decade of learning rate on the way into the minimum
  (within DESCENT_DECADES below it), measured over half a decade: a point-to-point slope on ~100 noisy steps,
  or one found at tiny learning rates where the weights hardly move and only the batches differ, is what
  makes single suggestions jump.
- minimum: the lowest smoothed loss; minimum / 10 the classic rule of thumb.
- valley: fastai's rule, the middle of the longest stretch over which the smoothed loss keeps falling.
The first tenth of the steps is left out (the smoothed curve is a handful of batches there), and every value
lies inside the range that was tried.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

MIN_POINTS = 5
SKIP_START = 0.1  # share of the first steps left out
SLOPE_SPAN_DECADES = 0.5  # the steepest descent is measured over this much learning rate
DESCENT_DECADES = 1.5  # ... and looked for this far below the minimum
HIGH_FRACTION = 1 / 3  # the band's top: this fraction of the learning rate at the minimum
LOW_FRACTION = 1 / 10  # the band reaches at least this far below the minimum
MIN_BAND_FACTOR = 3.0  # a band narrower than this (high / low) is widened around its middle
FLAT_DROP = 0.01  # a curve whose smoothed loss falls less than 1 % of its level says little


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    valley: float  # fastai's single suggestion (in the middle of the longest descent)
    steepest: float
    minimum: float  # the lr of the lowest smoothed loss
    note: str = ""  # set when the curve gave little to go on

    def contains(self, lr: float) -> bool:
        return self.low <= lr <= self.high

    def to_dict(self) -> dict:
        return {**asdict(self), "min_over_10": self.minimum / 10}


def suggest_band(lrs, smoothed) -> Band:
    lrs = np.asarray(lrs, dtype=float)
    smoothed = np.asarray(smoothed, dtype=float)
    n = _finite_prefix(smoothed)
    if n < MIN_POINTS:
        low = float(lrs[0]) if len(lrs) else math.nan
        return Band(low, low, low, low, low, note="too few steps before the loss stopped being a number: "
                                                  "try a lower end learning rate")
    lrs, smoothed = lrs[:n], smoothed[:n]
    skip = min(int(SKIP_START * n), n - MIN_POINTS)
    i_min = skip + int(np.argmin(smoothed[skip:]))
    descent_from = max(skip, int(np.searchsorted(lrs, lrs[i_min] / 10 ** DESCENT_DECADES)))
    steepest_i = _steepest(lrs, smoothed, descent_from, i_min)
    start, end = _longest_descent(smoothed[skip:])
    valley_i = skip + start + int((end - start) / 3) + int((end - start) / 6)  # fastai's valley suggestion
    minimum = float(lrs[i_min])
    low = min(float(lrs[steepest_i]), minimum * LOW_FRACTION)
    low, high = _widened(low, minimum * HIGH_FRACTION, float(lrs[0]), minimum)
    return Band(low, high, float(lrs[valley_i]), float(lrs[steepest_i]), minimum, _note(smoothed, skip, i_min))


def _note(smoothed: np.ndarray, skip: int, i_min: int) -> str:
    level = float(np.median(smoothed[skip: max(skip + 1, i_min)]))
    if i_min <= skip or level - smoothed[i_min] < FLAT_DROP * abs(level):
        return ("the loss hardly fell anywhere in the range: try more steps, a larger batch or a wider range, "
                "and read the curve rather than the band")
    return ""


def _finite_prefix(values: np.ndarray) -> int:
    bad = np.flatnonzero(~np.isfinite(values))
    return int(bad[0]) if len(bad) else len(values)


def _longest_descent(losses: np.ndarray) -> tuple[int, int]:
    """(start, end) of the longest decreasing subsequence's span (fastai's valley; O(n^2), n is ~100)."""
    n = len(losses)
    length = np.ones(n, dtype=int)
    best_end = 0
    for i in range(1, n):
        earlier = np.flatnonzero(losses[:i] > losses[i])
        if len(earlier):
            length[i] = length[earlier].max() + 1
        if length[i] > length[best_end]:
            best_end = i
    # The span starts at the first point of that subsequence: walk back along strictly longer-by-one links.
    start, want = best_end, length[best_end] - 1
    for j in range(best_end - 1, -1, -1):
        if want == 0:
            break
        if length[j] == want and losses[j] > losses[start]:
            start, want = j, want - 1
    return start, best_end


def _steepest(lrs: np.ndarray, smoothed: np.ndarray, skip: int, i_min: int) -> int:
    """The index in [skip, i_min] where the loss falls fastest per decade, measured over SLOPE_SPAN_DECADES."""
    if i_min - skip < 2:
        return i_min
    log_lr = np.log10(lrs)
    per_step = (log_lr[-1] - log_lr[0]) / max(1, len(lrs) - 1)
    half = max(1, int(round(SLOPE_SPAN_DECADES / 2 / per_step)))
    best, best_slope = i_min, 0.0
    for i in range(skip, i_min + 1):
        a, b = max(skip, i - half), min(i_min, i + half)
        if b > a:
            slope = (smoothed[b] - smoothed[a]) / (log_lr[b] - log_lr[a])
            if slope < best_slope:
                best, best_slope = i, slope
    return best


def _widened(low: float, high: float, lo_limit: float, hi_limit: float) -> tuple[float, float]:
    """At least MIN_BAND_FACTOR wide (geometrically around its middle), kept inside [lo_limit, hi_limit]."""
    if high / low < MIN_BAND_FACTOR:
        middle = math.sqrt(low * high)
        half = math.sqrt(MIN_BAND_FACTOR)
        low, high = middle / half, middle * half
    low, high = max(low, lo_limit), min(high, hi_limit)
    return low, max(low, high)
