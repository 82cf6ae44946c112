"""A ViewBox with a lasso: while `lasso` is on, a left-button drag draws a free-hand outline and, on release,
lassoFinished carries its corners in data coordinates; otherwise the drag pans as usual."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal


class LassoViewBox(pg.ViewBox):
    lassoFinished = Signal(object)  # np.ndarray [M, 2], the outline in data coordinates

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lasso = False
        self._outline: list[tuple[float, float]] = []
        self._curve = pg.PlotCurveItem(pen=pg.mkPen((40, 40, 40), width=1.5, style=Qt.PenStyle.DashLine))
        self.addItem(self._curve, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None):
        if not self.lasso or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        point = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self._outline = [(start.x(), start.y())]
        self._outline.append((point.x(), point.y()))
        xy = np.asarray(self._outline + self._outline[:1])
        self._curve.setData(xy[:, 0], xy[:, 1])
        if ev.isFinish():
            outline, self._outline = np.asarray(self._outline), []
            self._curve.setData([], [])
            self.lassoFinished.emit(outline)
