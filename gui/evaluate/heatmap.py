"""A confusion matrix (or a difference of two) as a pyqtgraph heatmap with the numbers in the cells.

Rows are true classes (top to bottom), columns predicted classes; a click on a cell emits
`cellClicked(true_index, predicted_index)`.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGraphicsRectItem

MAX_TEXT_CLASSES = 25  # beyond this the numbers would not fit in the cells


class ConfusionHeatmap(pg.PlotWidget):
    cellClicked = Signal(int, int)

    def __init__(self, parent=None, diverging: bool = False):
        super().__init__(parent)
        self.setBackground("w")
        self._diverging = diverging  # a difference matrix: red below zero, blue above, white at zero
        self.image = pg.ImageItem(axisOrder="row-major")  # image[true, predicted], whatever the global option
        self.addItem(self.image)
        self.getViewBox().invertY(True)
        self.getViewBox().setAspectLocked(True)
        self.getViewBox().setMouseEnabled(False, False)
        self.setLabel("left", "true")
        self.setLabel("bottom", "predicted")
        self.values = np.zeros((0, 0))
        self.classes: list[str] = []
        self._texts: list[pg.TextItem] = []
        self.marker = QGraphicsRectItem(0, 0, 1, 1)  # the cell whose images are shown
        self.marker.setPen(pg.mkPen("#e8433a", width=3, cosmetic=True))
        self.marker.setZValue(10)
        self.marker.hide()
        self.addItem(self.marker)
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_matrix(self, values: np.ndarray, classes: list[str], normalise_rows: bool = False) -> None:
        """Show `values` [K, K]; with normalise_rows each row is divided by its total (recall per row)."""
        values = np.asarray(values, dtype=float)
        self.classes = list(classes)
        shown = values
        if normalise_rows:
            totals = values.sum(axis=1, keepdims=True)
            shown = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
        self.values = shown
        if self._diverging:
            limit = max(float(np.abs(shown).max()), 1.0)
            self.image.setImage(shown, levels=(-limit, limit))
            self.image.setColorMap(pg.colormap.get("RdBu", source="matplotlib"))
        else:
            self.image.setImage(shown, levels=(0, max(float(shown.max()), 1e-9)))
            self.image.setColorMap(pg.colormap.get("viridis"))
        ticks = [(i + 0.5, name[:14]) for i, name in enumerate(self.classes)]
        self.getAxis("left").setTicks([ticks])
        self.getAxis("bottom").setTicks([ticks])
        self._write_numbers(shown, normalise_rows)
        self.getViewBox().autoRange(padding=0.02)

    def mark_cell(self, true_index: int, predicted_index: int) -> None:
        self.marker.setPos(predicted_index, true_index)
        self.marker.setVisible(0 <= true_index < len(self.classes) and 0 <= predicted_index < len(self.classes))

    def _write_numbers(self, shown: np.ndarray, fractions: bool) -> None:
        for item in self._texts:
            self.removeItem(item)
        self._texts = []
        k = len(self.classes)
        if k > MAX_TEXT_CLASSES:
            return
        top = float(np.abs(shown).max()) or 1.0
        for t in range(k):
            for p in range(k):
                value = shown[t, p]
                text = f"{value:.2f}" if fractions else (f"{value:+.0f}" if self._diverging and value else f"{value:.0f}")
                # dark text on light cells: viridis is light at the top, the diverging map near zero
                light = abs(value) < 0.5 * top if self._diverging else value > 0.6 * top
                item = pg.TextItem(text, color="k" if light else "w", anchor=(0.5, 0.5))
                item.setPos(p + 0.5, t + 0.5)
                self.addItem(item)
                self._texts.append(item)

    def _on_click(self, event) -> None:
        point = self.getViewBox().mapSceneToView(event.scenePos())
        p, t = int(np.floor(point.x())), int(np.floor(point.y()))
        if 0 <= t < len(self.classes) and 0 <= p < len(self.classes):
            self.cellClicked.emit(t, p)
