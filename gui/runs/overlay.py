"""The selected runs' curves overlaid: loss per step (raw + TensorBoard's debiased EMA, smoothing slider),
validation loss and accuracy per epoch (the best epoch starred), learning rate; one colour per run; the list of runs beside the plots is the legend, with
a checkbox per run; and a step / epoch / wall-time x axis.

Step curves keep every point; a min/max pyramid (gui/plotting/peak_levels.py) draws a million of them fast
without losing a spike.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QSlider, QSplitter, QVBoxLayout, QWidget)

from gui.plotting.empty_hint import EmptyHint
from gui.runs.curves import RunCurves
from gui.plotting.axis_range import keep_flat_series_visible
from gui.plotting.peak_levels import PeakLevels
from gui.plotting.smoothing import debiased_ema

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]  # matplotlib's tab10
X_LABELS = {"step": "step", "epoch": "epoch", "wall": "wall time (s)"}
DEFAULT_SMOOTHING = 0.6


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(x) & np.isfinite(y)
    return (x, y) if keep.all() else (x[keep], y[keep])


SELECT_RUNS = "Select runs in the list above (Ctrl or Shift for several) to overlay their curves here"
NO_RUNS = ("No runs yet: press Train in the Train tab, or open a run folder (File > Open Run Folder…); "
           "each run is listed above")

class _RunItems:
    """The plot items of one run."""

    def __init__(self, overlay: "RunsOverlay", name: str, colour: tuple[int, int, int]):
        self.colour = colour
        # Step curves use 1-pixel (cosmetic), opaque pens: Qt's raster engine draws wide or translucent lines
        # several times slower, and with 10 runs x 2 curves that decides whether a pan stays under a frame.
        faint = pg.mkPen(tuple(int(c + (255 - c) * 0.7) for c in colour), width=1)  # the colour, paled
        thin = pg.mkPen(colour, width=1)
        solid = pg.mkPen(colour, width=2)
        self.raw = overlay.loss_plot.plot(pen=faint, skipFiniteCheck=True)
        self.smooth = overlay.loss_plot.plot(pen=thin, name=name, skipFiniteCheck=True)
        self.lr = overlay.lr_plot.plot(pen=thin, skipFiniteCheck=True)
        # Each step curve draws the min/max level its zoom needs, built once, not re-downsampled at every pan.
        self.raw_levels, self.smooth_levels, self.lr_levels = (PeakLevels(c) for c in (self.raw, self.smooth, self.lr))
        sym = dict(symbol="o", symbolSize=5, symbolBrush=colour, symbolPen=None)
        self.val_loss = overlay.val_loss_plot.plot(pen=solid, **sym)
        self.val_acc = overlay.acc_plot.plot(pen=solid, name=name, **sym)
        star = dict(symbol="star", size=16, brush=pg.mkBrush(colour), pen=pg.mkPen("k", width=1))
        self.best_acc = pg.ScatterPlotItem(**star)
        self.best_loss = pg.ScatterPlotItem(**star)
        overlay.acc_plot.addItem(self.best_acc)
        overlay.val_loss_plot.addItem(self.best_loss)
        self.drawn_records = -1  # the curves' record count when last drawn
        # The smoothed loss so far: (weight, points smoothed, EMA state, values). The loss buffer only grows,
        # so a live run's redraw smooths only its new points, not a million old ones again.
        self.smoothed: tuple[float, int, tuple, np.ndarray] | None = None
        self.items = [self.raw, self.smooth, self.lr, self.val_loss, self.val_acc, self.best_acc, self.best_loss]

    def set_visible(self, visible: bool) -> None:
        for item in self.items:
            item.setVisible(visible)

    def remove(self, overlay: "RunsOverlay") -> None:
        for levels in (self.raw_levels, self.smooth_levels, self.lr_levels):
            levels.detach()
        for plot in (overlay.loss_plot, overlay.lr_plot, overlay.val_loss_plot, overlay.acc_plot):
            for item in self.items:
                if item.scene() is not None and item in plot.items:
                    plot.removeItem(item)


class RunsOverlay(QWidget):
    toggled = Signal(str, bool)  # run path, shown

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.x_mode = "step"
        self.smoothing = DEFAULT_SMOOTHING
        self._runs: dict[str, tuple[RunCurves, _RunItems]] = {}
        self._colour_of: dict[str, int] = {}

        self.x_box = QComboBox()
        for mode, label in (("step", "Step"), ("epoch", "Epoch"), ("wall", "Wall time")):
            self.x_box.addItem(label, mode)
        self.x_box.currentIndexChanged.connect(lambda _: self.set_x_mode(self.x_box.currentData()))
        self.smooth_slider = QSlider(Qt.Orientation.Horizontal)
        self.smooth_slider.setRange(0, 99)
        self.smooth_slider.setValue(int(DEFAULT_SMOOTHING * 100))
        self.smooth_slider.setToolTip("Smoothing of the loss line (TensorBoard's debiased exponential average)")
        self.smooth_label = QLabel()
        self.smooth_slider.valueChanged.connect(lambda v: self.set_smoothing(v / 100))
        controls = QHBoxLayout()
        controls.addWidget(QLabel("X axis:"))
        controls.addWidget(self.x_box)
        controls.addSpacing(16)
        controls.addWidget(QLabel("Smoothing:"))
        controls.addWidget(self.smooth_slider, 1)
        controls.addWidget(self.smooth_label)

        self.toggles = QListWidget()
        self.toggles.setToolTip("The legend: each run in its colour; untick a run to hide its curves")
        self.toggles.itemChanged.connect(self._on_toggle)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.loss_plot = self._plot(0, 0, "Training loss", "loss")
        self.val_loss_plot = self._plot(0, 1, "Validation loss (★ lowest)", "loss")
        self.acc_plot = self._plot(1, 0, "Validation accuracy (★ best)", "accuracy")
        self.lr_plot = self._plot(1, 1, "Learning rate", "lr")
        self.hints = [EmptyHint(plot, text) for plot, text in (
            (self.loss_plot, SELECT_RUNS),
            (self.val_loss_plot, "each run's validation loss per epoch"), (self.acc_plot, "and its accuracy"),
            (self.lr_plot, "and its learning rate"))]
        # The list of runs beside the plots, each name in its run's colour with a tick box, is the legend:
        # a legend inside the plots covered most of a small plot with long run names.
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.toggles)
        split.addWidget(self.view)
        split.setStretchFactor(1, 1)
        split.setSizes([220, 800])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(split, 1)
        self._update_labels()

    def _plot(self, row: int, col: int, title: str, y_label: str) -> pg.PlotItem:
        plot = self.view.addPlot(row=row, col=col, title=title)
        plot.setLabel("left", y_label)
        plot.getAxis("left").enableAutoSIPrefix(False)  # accuracy 0.2..0.8, not "200..800 (x0.001)"
        plot.showGrid(x=True, y=True, alpha=0.2)
        # Tick labels are the costly part of a repaint: cached, an axis redraws only when its range changes.
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            # A pan repaints the bottom axis and its grid: two grid levels and labels on the major ticks
            # only cost a third of pyqtgraph's default three levels (benchmarks/runs.py, overlay redraw).
            axis.setStyle(maxTickLevel=1, maxTextLevel=0)
        return plot

    def _update_labels(self) -> None:
        for plot in (self.loss_plot, self.val_loss_plot, self.acc_plot, self.lr_plot):
            plot.setLabel("bottom", X_LABELS[self.x_mode])
        for hint in self.hints:
            if hint.shown:
                hint.show()  # setLabel shows its axis again: an empty plot keeps its sentence, not bare axes
        self.smooth_label.setText(f"{self.smoothing:.2f}")

    # ---- which runs ----------------------------------------------------------------------------------
    def set_runs(self, runs: list[tuple[str, str, RunCurves]]) -> None:
        """Show exactly these (path, name, curves); a run keeps its colour while it stays selected."""
        wanted = {path for path, _, _ in runs}
        for path in [p for p in self._runs if p not in wanted]:
            self._runs.pop(path)[1].remove(self)
            self._colour_of.pop(path, None)
        self.toggles.blockSignals(True)
        self.toggles.clear()
        for path, name, curves in runs:
            if path not in self._runs:
                used = set(self._colour_of.values())
                index = next(i for i in range(len(used) + 1) if i not in used)
                self._colour_of[path] = index
                colour = PALETTE[index % len(PALETTE)]
                self._runs[path] = (curves, _RunItems(self, name, colour))
                self.redraw(path)
            items = self._runs[path][1]
            entry = QListWidgetItem(name)
            entry.setData(Qt.ItemDataRole.UserRole, path)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.setCheckState(Qt.CheckState.Checked if items.raw.isVisible() else Qt.CheckState.Unchecked)
            entry.setForeground(QColor(*items.colour))
            self.toggles.addItem(entry)
        self.toggles.blockSignals(False)
        for hint in self.hints:
            hint.set_empty(not runs)
        self._fit_flat()

    def set_run_count(self, count: int) -> None:
        """What the first plot says while no run is selected: select some, or how to get one when none exist."""
        self.hints[0].set_text(SELECT_RUNS if count else NO_RUNS)

    def run_paths(self) -> list[str]:
        return list(self._runs)

    def visible_loss_curves(self) -> int:
        return sum(1 for _, items in self._runs.values() if items.smooth.isVisible() and items.smooth.xData is not None
                   and len(items.smooth.xData))

    def _on_toggle(self, entry: QListWidgetItem) -> None:
        path = entry.data(Qt.ItemDataRole.UserRole)
        shown = entry.checkState() == Qt.CheckState.Checked
        if path in self._runs:
            self._runs[path][1].set_visible(shown)
            self._fit_y()
            self.toggled.emit(path, shown)

    # ---- options -------------------------------------------------------------------------------------
    def set_x_mode(self, mode: str) -> None:
        if mode == self.x_mode:
            return
        self.x_mode = mode
        self._update_labels()
        self.redraw()
        for plot in (self.loss_plot, self.val_loss_plot, self.acc_plot, self.lr_plot):
            plot.enableAutoRange(axis="x")

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = max(0.0, min(0.999, weight))
        self._update_labels()
        for curves, items in self._runs.values():
            with curves.lock:
                self._draw_smooth(curves, items)

    # ---- drawing -------------------------------------------------------------------------------------
    def redraw(self, path: str | None = None) -> None:
        """Give the curves of one run (or all) their current data."""
        for key in ([path] if path is not None else list(self._runs)):
            if key not in self._runs:
                continue
            curves, items = self._runs[key]
            with curves.lock:
                self._draw_run(curves, items)
        self._fit_flat()

    def redraw_changed(self) -> list[str]:
        """Redraw the runs whose curves grew since they were last drawn; returns their paths."""
        changed = [path for path, (curves, items) in self._runs.items() if curves.records != items.drawn_records]
        for path in changed:
            self.redraw(path)
        return changed

    def _draw_run(self, curves: RunCurves, items: _RunItems) -> None:
        items.drawn_records = curves.records
        mode = self.x_mode
        items.raw_levels.set_data(*_finite(curves.step_x(curves.loss.x, mode), curves.loss.y))
        self._draw_smooth(curves, items)
        items.lr_levels.set_data(*_finite(curves.step_x(curves.lr.x, mode), curves.lr.y))
        ex = curves.epoch_x(mode)
        items.val_loss.setData(*_finite(ex, curves.val_loss.y))
        items.val_acc.setData(*_finite(ex, curves.val_acc.y))
        # Each plot stars its own best: the highest accuracy, the lowest loss (often not the same epoch).
        for star, index, values in ((items.best_acc, curves.best_epoch_index(), curves.val_acc.y),
                                    (items.best_loss, curves.lowest_loss_index(), curves.val_loss.y)):
            if index is None or index >= ex.size or not np.isfinite(ex[index]):
                star.setData([], [])
            else:
                star.setData([ex[index]], [values[index]])

    def _draw_smooth(self, curves: RunCurves, items: _RunItems) -> None:
        y = curves.loss.y
        done = items.smoothed
        if done is None or done[0] != self.smoothing or done[1] > y.size:
            done = (self.smoothing, 0, (0.0, 0), np.empty(0))
        weight, count, state, values = done
        if count < y.size:  # non-finite losses pass through and do not move the average
            tail, state = debiased_ema(y[count:], weight, state)
            values = np.concatenate([values, tail])
        items.smoothed = (weight, y.size, state, values)
        items.smooth_levels.set_data(*_finite(curves.step_x(curves.loss.x, self.x_mode), values))

    def _fit_y(self) -> None:
        """Fit the step plots' y axes to the data now, then hold them: an auto-ranged axis recomputes the
        bounds of every curve at every pan, which for 10 runs x 100,000 steps costs more than the drawing."""
        for plot in (self.loss_plot, self.lr_plot):
            if getattr(plot, "_flat_range_set", False):
                continue  # a flat series has its own range (keep_flat_series_visible)
            plot.enableAutoRange(axis="y")
            plot.vb.updateAutoRange()
            plot.disableAutoRange(axis="y")

    def _fit_flat(self) -> None:
        arrays = []
        for curves, _ in self._runs.values():
            with curves.lock:
                arrays.append(curves.lr.y)
        keep_flat_series_visible(self.lr_plot, arrays)
        self._fit_y()
