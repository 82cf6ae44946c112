"""A log axis that labels only 1, 2 and 5 times a power of ten.

pyqtgraph labels every minor tick of a log axis (0.5 0.6 0.7 0.8 0.9 1): in a plot of ordinary height the
labels run into each other. Ticks stay where they are; only their text thins out to the 1-2-5 series.
"""
from __future__ import annotations

import math

import pyqtgraph as pg

LABELLED = (1, 2, 5)


def labelled(log_value: float) -> bool:
    """Whether 10**log_value is 1, 2 or 5 times a power of ten (to rounding)."""
    value = 10.0 ** log_value
    if not math.isfinite(value) or value <= 0:
        return False
    mantissa = value / 10.0 ** math.floor(math.log10(value) + 1e-9)
    return any(abs(mantissa - m) < 0.05 for m in LABELLED)


class SparseLogAxis(pg.AxisItem):
    def logTickStrings(self, values, scale, spacing):
        strings = super().logTickStrings(values, scale, spacing)
        return [text if labelled(v + math.log10(scale or 1.0)) else "" for v, text in zip(values, strings)]
