"""A confusion matrix (or a difference of two) as a pyqtgraph heatmap with the numbers in the cells.

Rows are true classes (top to bottom), columns predicted classes; a click on a cell emits
`cellClicked(true_index, predicted_index)`. A difference (B - A) is coloured by what it means, not by its sign:
more images off the diagonal are more errors, more on the diagonal more right answers, so a cell is warm where B
is worse and cool where B is better (`harm`), with a diverging map centred on no change. A colour bar says so.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGraphicsRectItem

from gui.plotting.empty_hint import EmptyHint
from gui.plotting.image_panes import show_bar

MAX_TEXT_CLASSES = 25  # beyond this the numbers would not fit in the cells
DIVERGING = "RdBu"  # matplotlib's red-white-blue, reversed below: warm = worse


def harm(delta: np.ndarray) -> np.ndarray:
    """How much worse B is than A in each cell of a confusion difference (B - A): an off-diagonal increase is
    more errors (positive), a diagonal increase more right answers (negative)."""
    out = np.array(delta, dtype=float)
    np.fill_diagonal(out, -np.diag(out))
    return out


def _diverging_map() -> pg.ColorMap:
    """Low (better) blue, high (worse) red: a reversed copy (pyqtgraph caches the map it hands out)."""
    shared = pg.colormap.get(DIVERGING, source="matplotlib")
    # Its .color holds 0..1 floats; the constructor reads colours as 0..255.
    return pg.ColorMap(1.0 - np.flip(shared.pos), np.flip(shared.color, axis=0) * 255)


class ConfusionHeatmap(pg.PlotWidget):
    cellClicked = Signal(int, int)

    def __init__(self, parent=None, diverging: bool = False, empty_text: str = "No confusion matrix yet"):
        super().__init__(parent)
        self.setBackground("w")
        self._diverging = diverging  # a difference matrix: warm where B is worse, cool where better, white at 0
        self.image = pg.ImageItem(axisOrder="row-major")  # image[true, predicted], whatever the global option
        self.addItem(self.image)
        self.colour_map = _diverging_map() if diverging else pg.colormap.get("viridis")
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=self.colour_map, width=12, interactive=False,
                                   colorMapMenu=False, label="B worse ↑ / better ↓" if diverging else "images")
        self.bar.setImageItem(self.image, insert_in=self.getPlotItem())
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
        self.hint = EmptyHint(self, empty_text)  # not "true (x0.001)" from -400 to 400 before a matrix
        show_bar(self.bar, False)

    def set_matrix(self, values: np.ndarray, classes: list[str], normalise_rows: bool = False) -> None:
        """Show `values` [K, K]; with normalise_rows each row is divided by its total (recall per row)."""
        values = np.asarray(values, dtype=float)
        self.classes = list(classes)
        self.hint.set_empty(values.size == 0)
        shown = values
        if normalise_rows:
            totals = values.sum(axis=1, keepdims=True)
            shown = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
        self.values = shown
        if self._diverging:
            coloured = harm(shown)
            limit = max(float(np.abs(coloured).max()), 1.0)
            levels = (-limit, limit)
        else:
            coloured, levels = shown, (0.0, max(float(shown.max()), 1e-9))
            self.bar.getAxis("left").setLabel("share of the row" if normalise_rows else "images")
        self.image.setImage(coloured, levels=levels)
        self.bar.setLevels(levels)
        show_bar(self.bar, values.size > 0)
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
