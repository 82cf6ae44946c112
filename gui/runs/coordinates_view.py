"""Many runs at once (the selected runs, or a sweep's trials): a parallel-coordinates plot over the settings that
vary between them and their metrics, where dragging along an axis brushes a range and the runs whose lines
pass through every brushed range are selected; and a scatter of any setting against any metric.

The axes, positions and brushing are core.tuning.coordinates; the rows core.tuning.run_rows. Nothing here reads
a file: the Runs tab gives the rows.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QComboBox, QGraphicsRectItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.tuning.coordinates import Axis, brushed, build_axes, positions

PICKED = (31, 119, 180)
OTHER = (200, 200, 200)
BRUSH_HALF_WIDTH = 0.08  # of the gap between two axes
GRAB = 0.35  # a drag starting this close to an axis (in gaps) brushes it


def _tick(axis: Axis, position: float) -> str:
    value = axis.value_at(position)
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class _BrushBox(pg.ViewBox):
    """A view box where a vertical drag near an axis brushes it and a click on an axis clears its brush."""

    def __init__(self, view: "ParallelCoordinates"):
        super().__init__(enableMenu=False)
        self.view = view
        self.setMouseEnabled(x=False, y=False)
        self._axis: int | None = None
        self._start = 0.0

    def _nearest(self, x: float) -> int | None:
        count = len(self.view.axes)
        index = int(round(x))
        return index if count and 0 <= index < count and abs(x - index) <= GRAB else None

    def mouseDragEvent(self, event, axis=None) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        event.accept()
        point = self.mapSceneToView(event.scenePos())
        if event.isStart():
            self._axis = self._nearest(self.mapSceneToView(event.buttonDownScenePos()).x())
            self._start = self.mapSceneToView(event.buttonDownScenePos()).y()
        if self._axis is None:
            return
        low, high = sorted((self._start, point.y()))
        self.view.set_brush(self.view.axes[self._axis].name, max(0.0, low), min(1.0, high))

    def mouseClickEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            index = self._nearest(self.mapSceneToView(event.scenePos()).x())
            if index is not None:
                event.accept()
                self.view.clear_brush(self.view.axes[index].name)
                return
        super().mouseClickEvent(event)


class ParallelCoordinates(QWidget):
    brushedRuns = Signal(list)  # the paths of the runs whose lines pass through every brushed range

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[dict] = []
        self.axes: list[Axis] = []
        self.ranges: dict[str, tuple[float, float]] = {}
        self.picked: list[int] = []
        self.hint = QLabel("Select two or more runs (or a sweep's trials) to compare them here. Drag along an "
                           "axis to select the runs in a range; click the axis to clear it.")
        self.hint.setWordWrap(True)
        self.note = QLabel()  # a sweep's parameter importances, when the runs are its trials
        self.note.setVisible(False)
        self.box = _BrushBox(self)
        self.plot = pg.PlotWidget(viewBox=self.box, background="w")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self._items: list = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hint)
        layout.addWidget(self.note)
        layout.addWidget(self.plot, 1)

    def set_runs(self, rows: list[dict], columns: list[str]) -> None:
        """rows: one dict per run with a "path"; columns: the axes, left to right (those no run has are left out).
        Brushes on axes that remain are kept."""
        self.rows = rows
        self.axes = build_axes(rows, columns)
        names = {a.name for a in self.axes}
        self.ranges = {k: v for k, v in self.ranges.items() if k in names}
        self.picked = brushed(rows, self.axes, self.ranges)
        self._draw()

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_brush(self, name: str, low: float, high: float) -> None:
        """Brush positions low..high (0..1) on the axis `name`; the runs within every brush are emitted."""
        self.ranges[name] = (low, high)
        self._brushed()

    def clear_brush(self, name: str | None = None) -> None:
        if name is None:
            self.ranges.clear()
        else:
            self.ranges.pop(name, None)
        self._brushed()

    def brushed_paths(self) -> list[str]:
        return [self.rows[i]["path"] for i in self.picked]

    def _brushed(self) -> None:
        self.picked = brushed(self.rows, self.axes, self.ranges)
        self._draw()
        self.brushedRuns.emit(self.brushed_paths() if self.ranges else [r["path"] for r in self.rows])

    # ---- drawing -------------------------------------------------------------------------------------
    def _draw(self) -> None:
        for item in self._items:
            self.plot.removeItem(item)
        self._items = []
        self.hint.setVisible(len(self.rows) < 2 or not self.axes)
        if not self.axes:
            return
        where = positions(self.rows, self.axes)
        x = np.arange(len(self.axes), dtype=float)
        picked = set(self.picked)
        order = [i for i in range(len(self.rows)) if i not in picked] + sorted(picked)  # picked lines on top
        for i in order:
            colour = PICKED if i in picked else OTHER
            self._add(pg.PlotDataItem(x, where[i], pen=pg.mkPen(colour, width=2 if i in picked else 1),
                                      connect="finite"))
        for k, axis in enumerate(self.axes):
            self._add(pg.InfiniteLine(pos=k, angle=90, pen=pg.mkPen((90, 90, 90))))
            self._label(axis.name, k, 1.08, bold=True)
            self._label(_tick(axis, 1.0), k, 1.02)
            self._label(_tick(axis, 0.0), k, -0.04)
            if axis.name in self.ranges:
                low, high = sorted(self.ranges[axis.name])
                rect = QGraphicsRectItem(QRectF(k - BRUSH_HALF_WIDTH, low, 2 * BRUSH_HALF_WIDTH, high - low))
                pen = QPen(QColor(214, 39, 40), 2)
                pen.setCosmetic(True)  # in pixels: the view's scale is one axis gap by one axis height
                rect.setPen(pen)
                rect.setBrush(QBrush(QColor(214, 39, 40, 60)))
                self._add(rect)
        self.plot.setXRange(-0.4, len(self.axes) - 0.6, padding=0)
        self.plot.setYRange(-0.1, 1.14, padding=0)

    def _label(self, text: str, x: float, y: float, bold: bool = False) -> None:
        html = f"<b>{text}</b>" if bold else text
        label = pg.TextItem(html=f"<span style='color:#333'>{html}</span>", anchor=(0.5, 0.5))
        label.setPos(x, y)
        self._add(label)

    def _add(self, item) -> None:
        self.plot.addItem(item)
        self._items.append(item)


class SettingScatter(QWidget):
    """One setting (x) against one metric (y), a point per run."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[dict] = []
        self.x_choice = QComboBox()
        self.y_choice = QComboBox()
        self.x_choice.currentTextChanged.connect(lambda _: self._draw())
        self.y_choice.currentTextChanged.connect(lambda _: self._draw())
        self.plot = pg.PlotWidget(background="w")
        # A PlotDataItem, not a ScatterPlotItem: it follows the plot's log mode (a learning rate's axis).
        self.points = pg.PlotDataItem([], [], pen=None, symbol="o", symbolSize=9, symbolBrush=pg.mkBrush(*PICKED),
                                      symbolPen=pg.mkPen("w"))
        self.plot.addItem(self.points)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)  # an accuracy reads 0.25, not 250 (x0.001)
        choices = QHBoxLayout()
        for text, combo in (("Setting", self.x_choice), ("against", self.y_choice)):
            choices.addWidget(QLabel(text))
            choices.addWidget(combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(choices)
        layout.addWidget(self.plot, 1)

    def set_runs(self, rows: list[dict], settings: list[str], metrics: list[str]) -> None:
        self.rows = rows
        for combo, names in ((self.x_choice, settings), (self.y_choice, metrics)):
            keep = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            if keep in names:
                combo.setCurrentText(keep)
            combo.blockSignals(False)
        self._draw()

    def _draw(self) -> None:
        x_name, y_name = self.x_choice.currentText(), self.y_choice.currentText()
        axes = build_axes(self.rows, [x_name]) if x_name else []
        axis = axes[0] if axes else None
        xs, ys = [], []
        for row in self.rows:
            y = row.get(y_name)
            if axis is None or not isinstance(y, (int, float)):
                continue
            x = row.get(x_name)
            if axis.kind == "category":  # the category's place on the axis, ticks named below
                x = axis.position(x) * max(1, len(axis.categories) - 1)
            if isinstance(x, (int, float)):
                xs.append(float(x))
                ys.append(float(y))
        self.plot.setLogMode(x=axis is not None and axis.kind == "log", y=False)
        self.points.setData(xs, ys)
        self.plot.setLabel("bottom", x_name)
        self.plot.setLabel("left", y_name)
        ticks = None
        if axis is not None and axis.kind == "category":
            ticks = [[(float(i), str(c)) for i, c in enumerate(axis.categories)]]
        self.plot.getAxis("bottom").setTicks(ticks)
