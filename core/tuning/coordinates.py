"""The data behind a parallel-coordinates view of many runs (a sweep's trials, or runs picked in the Runs tab):
one axis per setting or metric, each run a line through its values, and brushing: a range held on any axes
selects the runs whose lines pass through all of them.

Qt-free and drawing-free: the view maps positions (0..1 along each axis) to pixels. An axis is a log axis when
its values are all positive and span at least two decades (learning rates, weight decay), a category axis when
they are not all numbers (optimizer, model), else linear.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

LOG_SPAN = 100.0  # max / min at or above this: a log axis


@dataclass(frozen=True)
class Axis:
    name: str
    kind: str  # "linear" | "log" | "category"
    low: float = 0.0
    high: float = 1.0
    categories: tuple = ()

    def position(self, value: Any) -> float:
        """Where `value` sits on the axis, 0..1; NaN when the run has no value for it."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return math.nan
        if self.kind == "category":
            key = _key(value)
            keys = [_key(c) for c in self.categories]
            if key not in keys:
                return math.nan
            return keys.index(key) / max(1, len(keys) - 1) if len(keys) > 1 else 0.5
        if not _is_number(value):
            return math.nan
        low, high, v = (math.log10(self.low), math.log10(self.high), math.log10(value)) if self.kind == "log" \
            else (self.low, self.high, float(value))
        return 0.5 if high == low else (v - low) / (high - low)

    def value_at(self, position: float):
        """The value at a position (a tick, or a brush's end): a number, or the nearest category."""
        if self.kind == "category":
            return self.categories[int(round(position * max(0, len(self.categories) - 1)))] if self.categories else None
        if self.kind == "log":
            return 10 ** (math.log10(self.low) + position * (math.log10(self.high) - math.log10(self.low)))
        return self.low + position * (self.high - self.low)


def build_axes(rows: list[dict], columns: Iterable[str]) -> list[Axis]:
    """One axis per column that at least one row has a value for."""
    axes = []
    for name in columns:
        values = [r.get(name) for r in rows if r.get(name) is not None]
        values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
        if values:
            axes.append(_axis(name, values))
    return axes


def _axis(name: str, values: list) -> Axis:
    if not all(_is_number(v) for v in values):
        return Axis(name, "category", categories=tuple(dict.fromkeys(sorted(values, key=_key))))
    low, high = float(min(values)), float(max(values))
    kind = "log" if low > 0 and high / low >= LOG_SPAN else "linear"
    return Axis(name, kind, low, high)


def positions(rows: list[dict], axes: list[Axis]) -> np.ndarray:
    """(runs, axes) array of positions 0..1 (NaN: no value): what the view draws as lines."""
    return np.array([[axis.position(r.get(axis.name)) for axis in axes] for r in rows], dtype=float).reshape(
        len(rows), len(axes))


def brushed(rows: list[dict], axes: list[Axis], ranges: dict[str, tuple[float, float]]) -> list[int]:
    """Indices of the rows whose positions lie within every brushed range (positions 0..1, either order).
    A row with no value on a brushed axis is not selected; no ranges select every row."""
    where = positions(rows, axes)
    keep = np.ones(len(rows), dtype=bool)
    index = {axis.name: i for i, axis in enumerate(axes)}
    for name, (a, b) in ranges.items():
        if name not in index:
            continue
        column = where[:, index[name]]
        low, high = min(a, b), max(a, b)
        keep &= ~np.isnan(column) & (column >= low - 1e-9) & (column <= high + 1e-9)
    return [int(i) for i in np.flatnonzero(keep)]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _key(value) -> str:
    return f"{type(value).__name__}:{value}"
