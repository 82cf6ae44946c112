"""Summary numbers for one layer's activation: what a teacher points at ("half this layer is zero")."""
from __future__ import annotations

import numpy as np

from core.inspect.mosaic import as_array, channel_ranges

STAT_KEYS = ("mean", "std", "min", "max", "zeros_fraction", "dead_fraction")


def layer_stats(act, ranges: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, float]:
    """mean, std, min, max, zeros_fraction (elements exactly 0) and dead_fraction (channels of a [C, H, W]
    activation, or units of an [N] one, that are zero everywhere for this input). NaN / inf in the
    activation show in min / max / mean as they are. `ranges`: per-channel (min, max) if already known."""
    a = as_array(act)
    if a.size == 0:
        return dict.fromkeys(STAT_KEYS, 0.0)
    units = a.reshape(a.shape[0], -1) if a.ndim >= 2 else a.reshape(-1, 1)
    lo, hi = ranges if ranges is not None and a.ndim >= 2 else channel_ranges(units)
    flat = a.reshape(-1)
    n = flat.size
    mean = float(flat.mean())
    # One BLAS pass for the variance; the exact two-pass formula only when cancellation could bite.
    var = float(np.dot(flat, flat)) / n - mean * mean
    if var <= 1e-4 * mean * mean or not np.isfinite(var):
        var = float(flat.var())
    return {
        "mean": mean,
        "std": float(np.sqrt(max(var, 0.0))),
        "min": float(lo.min()),
        "max": float(hi.max()),
        "zeros_fraction": 1.0 - np.count_nonzero(flat) / n,
        "dead_fraction": float(np.count_nonzero((lo == 0) & (hi == 0))) / len(lo),
    }
