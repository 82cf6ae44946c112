"""A growable (x, y) buffer of float64 points: appends are amortised O(1) (capacity doubles when full) and
every point is kept, so the plot's peak downsampling can show every spike of a million-step run."""
from __future__ import annotations

import numpy as np


class PlotBuffer:
    def __init__(self, capacity: int = 1024):
        self._x = np.empty(max(1, capacity), dtype=np.float64)
        self._y = np.empty(max(1, capacity), dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        return self._x.shape[0]

    def _reserve(self, needed: int) -> None:
        if needed <= self.capacity:
            return
        capacity = self.capacity
        while capacity < needed:
            capacity *= 2
        for name in ("_x", "_y"):
            grown = np.empty(capacity, dtype=np.float64)
            grown[: self._n] = getattr(self, name)[: self._n]
            setattr(self, name, grown)

    def append(self, x: float, y: float) -> None:
        self._reserve(self._n + 1)
        self._x[self._n] = x
        self._y[self._n] = y
        self._n += 1

    def extend(self, xs, ys) -> None:
        xs = np.asarray(xs, dtype=np.float64).ravel()
        ys = np.asarray(ys, dtype=np.float64).ravel()
        if xs.shape != ys.shape:
            raise ValueError(f"x and y differ in length ({xs.size} vs {ys.size})")
        self._reserve(self._n + xs.size)
        self._x[self._n: self._n + xs.size] = xs
        self._y[self._n: self._n + ys.size] = ys
        self._n += xs.size

    def clear(self) -> None:
        self._n = 0

    def drop_after(self, x: float) -> None:
        """Forget the points whose x is above `x` (a resumed run writes those steps again)."""
        if self._n and self._x[self._n - 1] > x:
            self._n = int(np.searchsorted(self._x[: self._n], x, side="right"))

    @property
    def x(self) -> np.ndarray:
        """A view of the points held (no copy); it stays valid after later appends."""
        return self._x[: self._n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self._n]
