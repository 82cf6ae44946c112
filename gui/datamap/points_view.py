"""The map's points on screen: one picture (gui.datamap.raster) in the plot, drawn again when the view settles,
and which point is under the mouse, found with a k-d tree (scipy's cKDTree) instead of a scan of every point,
so hovering a map of 100,000 points costs microseconds."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer

from gui.concurrent import BackgroundTask
from gui.datamap.raster import draw_points, rgba32

SETTLE_MS = 90  # the view has not moved for this long: draw the picture again at the new scale
EXTENT = 0.5  # the picture covers this many view widths beyond each side of the view (panning uncovers it)
MAX_SIDE = 4096  # px: the picture's largest side
HIT_PX = 6  # a point within this many pixels of the mouse is under it
ASYNC_POINTS = 20_000  # above this many points the picture is drawn on a background thread (~100 ms at 100,000)


def radius_for(count: int) -> float:
    """Dots shrink as they grow in number, so a big map stays readable."""
    return 4.0 if count <= 2_000 else 3.2 if count <= 20_000 else 2.4


class PointsView:
    def __init__(self, plot: pg.PlotWidget):
        self.plot = plot
        self.box: pg.ViewBox = plot.getViewBox()
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image, ignoreBounds=True)
        self.points = np.zeros((0, 2), np.float64)
        self.colours = np.zeros(0, np.uint32)
        self.rings = np.zeros(0, bool)
        self.selected = np.zeros(0, np.int64)
        self.drawn_rect: tuple[float, float, float, float] | None = None
        self._bounds: tuple[np.ndarray, np.ndarray] | None = None  # the points' lower-left and upper-right corners
        self._tree = None
        self._timer = QTimer(plot)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.redraw)
        self.box.sigRangeChanged.connect(lambda *_: self._timer.start())
        self.task = BackgroundTask(plot, imports=())  # a big map's picture; a newer request drops an older one
        self.task.finished.connect(self._on_drawn)
        self._generation = 0  # of the newest redraw: a picture of an older one is never shown

    def set_points(self, points: np.ndarray, rgb: np.ndarray, rings: np.ndarray, fit: bool) -> None:
        points = np.asarray(points, np.float64).reshape(-1, 2)
        if self._tree is None or points.shape != self.points.shape or not np.array_equal(points, self.points):
            self._tree = None  # built at the first hover
        self.points, self.colours, self.rings = points, rgba32(rgb), np.asarray(rings, bool)
        self._bounds = (points.min(axis=0), points.max(axis=0)) if len(points) else None  # once, not per redraw
        if fit and len(points):
            (x0, y0), (x1, y1) = self._bounds
            self.box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.05)
        self.redraw()

    def set_selected(self, rows: np.ndarray) -> None:
        self.selected = np.asarray(rows, np.int64)
        self.redraw()

    def redraw(self) -> None:
        """Draw the picture for the view as it is now (and half a view around it): at once for a small map, on
        the background task for a big one (the view keeps panning the old picture meanwhile)."""
        self._timer.stop()
        self._generation += 1
        request = self._request()
        if request is None:
            self.image.clear()
            self.drawn_rect = None
            return
        if len(self.points) <= ASYNC_POINTS:
            self._show(draw_points(*request), request[3])
        else:
            generation = self._generation
            self.task.submit(lambda ctx: (generation, draw_points(*request), request[3]))

    def _on_drawn(self, result) -> None:
        generation, rgba, rect = result
        if generation == self._generation:
            self._show(rgba, rect)

    def picture(self) -> np.ndarray | None:
        """The picture redraw would show now, drawn here (the benchmark times it)."""
        request = self._request()
        return None if request is None else draw_points(*request)

    def _request(self) -> tuple | None:
        """draw_points' arguments for the current view, or None when nothing is to be drawn."""
        (vx0, vx1), (vy0, vy1) = self.box.viewRange()
        px_w, px_h = self.box.viewPixelSize()
        if self._bounds is None or px_w <= 0 or px_h <= 0:
            return None
        w, h = vx1 - vx0, vy1 - vy0
        x0, x1 = vx0 - EXTENT * w, vx1 + EXTENT * w
        y0, y1 = vy0 - EXTENT * h, vy1 + EXTENT * h
        (dx0, dy0), (dx1, dy1) = self._bounds
        pad_x, pad_y = 8 * px_w, 8 * px_h  # no wider than the points (and their dots) need
        x0, x1 = max(x0, dx0 - pad_x), min(x1, dx1 + pad_x)
        y0, y1 = max(y0, dy0 - pad_y), min(y1, dy1 + pad_y)
        if x1 <= x0 or y1 <= y0:
            return None
        width = max(1, min(MAX_SIDE, int(round((x1 - x0) / px_w))))
        height = max(1, min(MAX_SIDE, int(round((y1 - y0) / px_h))))
        return (self.points, self.colours, self.rings, (x0, y0, x1 - x0, y1 - y0), (height, width),
                radius_for(len(self.points)), self.selected)

    def _show(self, rgba: np.ndarray, rect: tuple[float, float, float, float]) -> None:
        self.image.setImage(rgba, autoLevels=False)
        self.image.setRect(QRectF(*rect))
        self.drawn_rect = rect

    def row_at(self, scene_pos: QPointF) -> int | None:
        """The row of the point drawn under a scene position, or None."""
        if not len(self.points):
            return None
        if self._tree is None:
            from scipy.spatial import cKDTree

            self._tree = cKDTree(self.points)
        where = self.box.mapSceneToView(scene_pos)
        px_w, px_h = self.box.viewPixelSize()
        reach = (HIT_PX + radius_for(len(self.points))) * max(px_w, px_h)
        distance, row = self._tree.query([where.x(), where.y()], k=1, distance_upper_bound=reach)
        return int(row) if np.isfinite(distance) else None
