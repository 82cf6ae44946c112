"""A flat series (a constant learning rate, a loss stuck at one value) gets a y range around its value.

pyqtgraph gives a zero-height range a fixed +-0.5 (or worse after padding), so lr = 1e-3 sits as a line at
the bottom of -0.5..0.5, and the axis says nothing. A flat series is shown at +-50% of its value instead
(+-1 around 0); anything with a real spread goes back to auto range.
"""
from __future__ import annotations

import numpy as np

FLAT_RELATIVE = 1e-9


def flat_range(arrays) -> tuple[float, float] | None:
    """(low, high) when every finite value of `arrays` is (nearly) the same number, else None."""
    lows, highs = [], []
    for values in arrays:
        values = np.asarray(values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size:
            lows.append(finite.min())
            highs.append(finite.max())
    if not lows:
        return None
    low, high = min(lows), max(highs)
    scale = max(abs(low), abs(high))
    if high - low > FLAT_RELATIVE * max(scale, 1e-300):
        return None
    pad = 0.5 * scale if scale > 0 else 1.0
    return low - pad, high + pad


def keep_flat_series_visible(plot, arrays) -> None:
    """Give `plot` a sensible y range if its data is flat; otherwise let it auto-range (y only)."""
    span = flat_range(arrays)
    if span is not None:
        plot.setYRange(*span, padding=0)
        plot._flat_range_set = True
    elif getattr(plot, "_flat_range_set", False):
        plot._flat_range_set = False
        plot.enableAutoRange(axis="y")
