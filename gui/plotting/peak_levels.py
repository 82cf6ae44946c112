"""Level of detail for long step curves: draw a min/max envelope with about one bin (two points) per pixel
column, chosen from a pyramid of bin sizes (1, 2, 4, 8, ...) by how many points the view shows.

Why not pyqtgraph's own auto-downsampling with clip-to-view: it re-clips and re-downsamples every curve on
every pan, so ten curves of 100,000 steps cost a frame's budget before anything is drawn. Here a level is
built once (and again only when the data grows or the zoom changes by a factor of 2); while the whole level
fits the view it is drawn as one cached path, and a pan only moves it. Each bin keeps its minimum and its
maximum, so no spike is lost at any zoom (the same guarantee as pyqtgraph's "peak" method).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

BIN_FACTOR = 2  # the pyramid's step: a zoom must change 2x before another level is drawn
MIN_BINS_PER_PIXEL = 0.75  # so 0.75 to 1.5 bins a pixel column: fewer would blur, more only costs drawing
CLIP_ABOVE_PIXELS = 16  # a level this many points per pixel of width, or more, is clipped to the view
FALLBACK_WIDTH = 640  # pixels, before the view has a size


def envelope(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The min and max of every `bins` consecutive points, at the bin's first x (a partial last bin too),
    and the last point itself, so the curve still ends where the data ends."""
    if bins <= 1 or x.size <= 2:
        return x, y
    whole = x.size // bins * bins
    lows = [y[:whole].reshape(-1, bins).min(axis=1)]
    highs = [y[:whole].reshape(-1, bins).max(axis=1)]
    starts = [x[:whole:bins]]
    if whole < x.size:  # the partial last bin
        lows.append(y[whole:].min(keepdims=True))
        highs.append(y[whole:].max(keepdims=True))
        starts.append(x[whole:whole + 1])
    low, high, start = np.concatenate(lows), np.concatenate(highs), np.concatenate(starts)
    out_x = np.empty(2 * start.size + 1)
    out_y = np.empty(2 * start.size + 1)
    out_x[:-1:2] = out_x[1:-1:2] = start
    out_y[:-1:2], out_y[1:-1:2] = low, high
    out_x[-1], out_y[-1] = x[-1], y[-1]
    return out_x, out_y


def bins_for(visible_points: int, width_px: float) -> int:
    """The largest pyramid bin that still leaves MIN_BINS_PER_PIXEL bins (two points each) a pixel column."""
    bins = 1
    while visible_points >= bins * BIN_FACTOR * MIN_BINS_PER_PIXEL * width_px:
        bins *= BIN_FACTOR
    return bins if bins > 2 else 1  # pairs' min and max are as many points as the data: no saving


class PeakLevels:
    """Feeds one PlotDataItem the pyramid level its view needs. Call `set_data` instead of the curve's
    setData; `detach` before the curve leaves its plot."""

    def __init__(self, curve: pg.PlotDataItem):
        self.curve = curve
        curve.setDownsampling(auto=False)
        curve.setClipToView(False)
        self._x = self._y = np.empty(0)
        self._sorted = True
        self._levels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._shown: tuple[int, bool] | None = None  # (bins, clipped) of the data the curve holds
        self._view = curve.getViewBox()
        if self._view is not None:
            self._view.sigXRangeChanged.connect(self.fit)
            self._view.sigResized.connect(self.fit)

    def detach(self) -> None:
        if self._view is not None:
            for signal in (self._view.sigXRangeChanged, self._view.sigResized):
                try:
                    signal.disconnect(self.fit)
                except (RuntimeError, TypeError):
                    pass  # already gone with its view
            self._view = None

    def set_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self._x, self._y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        # x is steps, epochs or wall time: sorted, except after an odd resume; unsorted, count every point
        self._sorted = bool(self._x.size < 2 or np.all(self._x[1:] >= self._x[:-1]))
        self._levels.clear()
        self._shown = None
        self.fit()

    def level(self, bins: int) -> tuple[np.ndarray, np.ndarray]:
        if bins not in self._levels:
            self._levels[bins] = envelope(self._x, self._y, bins)
        return self._levels[bins]

    def shown_bins(self) -> int:
        return self._shown[0] if self._shown else 1

    def fit(self, *_) -> None:
        """Give the curve the level its view needs now (nothing to do while that level is already shown)."""
        width = FALLBACK_WIDTH
        visible = self._x.size
        if self._view is not None:
            width = self._view.width() or FALLBACK_WIDTH
            if self._sorted and visible:
                low, high = self._view.viewRange()[0]
                visible = int(np.searchsorted(self._x, high, "right") - np.searchsorted(self._x, low, "left"))
        bins = bins_for(visible, width)
        x, y = self.level(bins)
        clipped = x.size >= CLIP_ABOVE_PIXELS * width  # zoomed far in: draw only what is in view
        if (bins, clipped) == self._shown:
            return
        self._shown = (bins, clipped)
        self.curve.setClipToView(clipped)
        self.curve.setData(x, y)
