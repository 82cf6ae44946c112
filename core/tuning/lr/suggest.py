"""From a range test's loss curve to a suggested BAND of learning rates, with the usual single-point
suggestions as marks inside it. One number is known to mislead (torch-lr-finder#106, lightning#21141: the
steepest point of a noisy curve jumps between runs), so the band and the curve are what a user reads.

Everything is read off the TREND: each step's loss averaged with its neighbours within a quarter decade of
learning rate on either side. Unlike the test's running (exponential) average, a centred average does not lag:
over 100 steps of 8 decades an EMA with beta 0.9 trails by ~0.7 decade, which alone moves every suggestion
five times too high.

The band runs from the steepest descent (or one decade below the minimum, whichever is lower) up to the end
of the bottom: the largest learning rate whose trend is still within the noise of the lowest one (Smith's
upper bound: where the loss stops falling). Marks:
- steepest: where the trend falls fastest per decade on the way into the minimum (within DESCENT_DECADES
  below it), measured over half a decade: a point-to-point slope, or one found at tiny learning rates where
  the weights hardly move and only the batches differ, is what makes single suggestions jump.
- minimum: the lowest trend; minimum / 10 the classic rule of thumb.
- valley: fastai's rule, the middle of the longest stretch over which the trend keeps falling.
The first tenth of the steps is left out, and every value lies inside the range that was tried.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

MIN_POINTS = 5
TREND_HALF_DECADES = 0.25  # the trend averages the losses within this much learning rate on either side
SKIP_START = 0.1  # share of the first steps left out
SLOPE_SPAN_DECADES = 0.5  # the steepest descent is measured over this much learning rate
DESCENT_DECADES = 1.5  # ... and looked for this far below the minimum
LOW_FRACTION = 1 / 10  # the band reaches at least this far below the minimum
MIN_BAND_FACTOR = 3.0  # a band narrower than this (high / low) is widened around its middle
FLAT_DROP = 0.01  # a curve whose smoothed loss falls less than 1 % of its level says little


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    valley: float  # fastai's single suggestion (in the middle of the longest descent)
    steepest: float
    minimum: float  # the lr of the lowest trend
    note: str = ""  # set when the curve gave little to go on

    def contains(self, lr: float) -> bool:
        return self.low <= lr <= self.high

    def to_dict(self) -> dict:
        return {**asdict(self), "min_over_10": self.minimum / 10}


def trend(lrs, losses, half_decades: float = TREND_HALF_DECADES) -> np.ndarray:
    """Each loss averaged with the finite losses within `half_decades` of learning rate on either side."""
    x = np.log10(np.asarray(lrs, dtype=float))
    y = np.asarray(losses, dtype=float)
    finite = np.isfinite(y)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, y, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    lo = np.searchsorted(x, x - half_decades, side="left")
    hi = np.searchsorted(x, x + half_decades, side="right")
    n = counts[hi] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[hi] - sums[lo]) / np.maximum(n, 1), np.nan)


def suggest_band(lrs, losses) -> Band:
    """lrs ascending, losses the raw loss of each step (NaN where it stopped being a number)."""
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    n = _finite_prefix(losses)
    if n < MIN_POINTS:
        low = float(lrs[0]) if len(lrs) else math.nan
        return Band(low, low, low, low, low, note="too few steps before the loss stopped being a number: "
                                                  "try a lower end learning rate")
    lrs, losses = lrs[:n], losses[:n]
    curve = trend(lrs, losses)
    skip = min(int(SKIP_START * n), n - MIN_POINTS)
    i_min = skip + int(np.argmin(curve[skip:]))
    i_top = _bottom_end(lrs, losses, curve, skip, i_min)
    descent_from = max(skip, int(np.searchsorted(lrs, lrs[i_min] / 10 ** DESCENT_DECADES)))
    steepest_i = _steepest(lrs, curve, descent_from, i_min)
    start, end = _longest_descent(curve[skip:])
    valley_i = skip + start + int((end - start) / 3) + int((end - start) / 6)  # fastai's valley suggestion
    minimum = float(lrs[i_min])
    low = min(float(lrs[steepest_i]), minimum * LOW_FRACTION)
    low, high = _widened(low, float(lrs[i_top]), float(lrs[0]), float(lrs[-1]))
    return Band(low, high, float(lrs[valley_i]), float(lrs[steepest_i]), minimum, _note(curve, skip, i_min))


def _bottom_end(lrs, losses, curve, skip: int, i_min: int) -> int:
    """The last step from the minimum on whose trend stays within the trend's own noise of the minimum. The
    noise is the spread of the losses about the trend up to the minimum (a robust one: the median absolute
    deviation, so a few wild batches do not widen it), over the number of losses each trend point averages."""
    x = np.log10(lrs)
    per_window = max(1, int(round(2 * TREND_HALF_DECADES / max((x[-1] - x[0]) / max(1, len(x) - 1), 1e-12))))
    residuals = losses[skip: i_min + 1] - curve[skip: i_min + 1]
    spread = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals)))) if len(residuals) else 0.0
    noise = spread / math.sqrt(per_window)
    top = i_min
    while top + 1 < len(curve) and curve[top + 1] <= curve[i_min] + noise:
        top += 1
    return top


def _note(curve: np.ndarray, skip: int, i_min: int) -> str:
    level = float(np.median(curve[skip: max(skip + 1, i_min)]))
    if i_min <= skip or level - curve[i_min] < FLAT_DROP * abs(level):
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


def _steepest(lrs: np.ndarray, curve: np.ndarray, skip: int, i_min: int) -> int:
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
            slope = (curve[b] - curve[a]) / (log_lr[b] - log_lr[a])
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
