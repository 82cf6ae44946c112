"""TensorBoard's debiased exponential moving average, vectorised, so a slider can re-smooth a million points
at once and a live plot can extend it point by point (pass the returned state back in).

TensorBoard (tf_smoothing / vz_line_chart): last = last * w + (1 - w) * v; the shown value is
last / (1 - w ** n) after n finite points, so the first points are not pulled towards 0. Non-finite values
are passed through and do not move the average.
"""
from __future__ import annotations

import math

import numpy as np

EmaState = tuple[float, int]  # (biased running average, finite points seen)


def _block_size(weight: float) -> int:
    # Within a block the sum is formed as w**t * cumsum(v * w**-i); w**-i must stay far from overflow.
    return int(max(1, min(4096, 250 / max(1e-9, -math.log10(weight)))))


def debiased_ema(values, weight: float, state: EmaState = (0.0, 0)) -> tuple[np.ndarray, EmaState]:
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or values.size == 0:
        return values.copy(), state
    out = values.copy()
    finite = np.isfinite(values)
    v = values[finite]
    last, count = state
    smoothed = np.empty_like(v)
    block = _block_size(weight)
    for start in range(0, v.size, block):
        chunk = v[start:start + block]
        i = np.arange(1, chunk.size + 1, dtype=np.float64)
        grow = weight ** -i
        biased = weight ** i * (last + (1 - weight) * np.cumsum(chunk * grow))
        smoothed[start:start + chunk.size] = biased / (1 - weight ** (count + i))
        last, count = float(biased[-1]), count + chunk.size
    out[finite] = smoothed
    return out, (last, count)
