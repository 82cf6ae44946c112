"""The Health view: per layer, over the run, weight and gradient norms, the update-to-weight ratio (with
the ~1e-3 rule-of-thumb line), the dead-unit share and the activation histogram as a heat map over steps
(one ImageItem: steps across, bins up), plus the warnings that name a layer and say what to do.
Reads RUN/layer_health.jsonl on a BackgroundTask (no torch needed)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListWidget, QStackedWidget, QVBoxLayout, QWidget

from gui.concurrent import BackgroundTask
from gui.plotting.empty_hint import HINT_COLOUR
from gui.plotting.log_axis import SparseLogAxis

NO_HEALTH = ("This run has no layer health. Train with layer health on (the Train tab's Insight box: Layer health "
             "every N steps, or --layer-health-every N) to see each layer's norms, updates and dead units here.")
NO_RUN = ("Open a run (Open Run… above, or File > Open Run Dossier…) to see how each of its layers fared: weight "
          "and gradient norms, update sizes, dead units and activations over the run.")
NORM_COLOURS = {"weight_norm": "#2f80ed", "grad_norm": "#eb5757"}
NORM_WORDS = {"weight_norm": "weight", "grad_norm": "gradient"}
TICK_FONT_PT = 8


class HealthView(QWidget):
    loaded = Signal(int)  # samples read (tests wait on it)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.samples: list[dict] = []
        self.warnings: list[dict] = []
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_loaded)
        self._task.failed.connect(lambda m: self.set_empty(f"Could not read the layer health: {m}"))
        self.layers = QComboBox()
        self.layers.currentTextChanged.connect(self.show_layer)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        # Two by two, so each plot has the height for its ticks at the window's default size; the two norms
        # are named by coloured words in the title (a legend in a short plot covers the curves or is clipped).
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        norms_title = " / ".join(f"<span style='color:{c}'>{NORM_WORDS[k]}</span>"
                                 for k, c in NORM_COLOURS.items()) + " norm"
        self.norms = self._plot(0, 0, norms_title, log_y=True)
        self.ratio = self._plot(0, 1, "update / weight ratio (dashed: 1e-3)", log_y=True)
        self.ratio.addItem(pg.InfiniteLine(pos=-3, angle=0, pen=pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine)))
        self.dead = self._plot(1, 0, "dead units (share)")
        self.dead.setYRange(0, 1)
        self.hist = self._plot(1, 1, "activation histogram (bins up, log counts)")
        self.hist.setLabel("left", "bin")
        self.hist_image = pg.ImageItem(axisOrder="row-major")
        self.hist.addItem(self.hist_image)
        self.warning_list = QListWidget()
        self.warning_list.setMaximumHeight(80)
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layers, 1)
        content_layout.addLayout(top)
        content_layout.addWidget(self.status)
        content_layout.addWidget(self.plots, 1)
        content_layout.addWidget(QLabel("Warnings"))
        content_layout.addWidget(self.warning_list)
        self.hint = QLabel(NO_RUN)  # what to do, instead of four sets of empty axes
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setStyleSheet("color: rgb%s; padding: 40px;" % (HINT_COLOUR,))
        self.pages = QStackedWidget()
        self.pages.addWidget(self.hint)
        self.pages.addWidget(content)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)

    def _plot(self, row: int, col: int, title: str, log_y: bool = False) -> pg.PlotItem:
        axes = {"left": SparseLogAxis("left")} if log_y else None  # log ticks labelled 1-2-5, not overprinted
        plot = self.plots.addPlot(row=row, col=col, title=title, axisItems=axes)
        plot.setLabel("bottom", "step")
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setLogMode(y=log_y)
        font = pg.QtGui.QFont()
        font.setPointSize(TICK_FONT_PT)
        for name in ("left", "bottom"):
            plot.getAxis(name).setTickFont(font)
        plot.getAxis("left").enableAutoSIPrefix(False)
        return plot

    def is_empty(self) -> bool:
        return self.pages.currentWidget() is self.hint

    def set_empty(self, text: str | None) -> None:
        """No samples: one sentence (what to do) instead of four sets of empty axes."""
        if text is not None:
            self.hint.setText(text)
        self.pages.setCurrentIndex(0 if text is not None else 1)

    def open_run(self, run_dir: str) -> None:
        def job(ctx):
            from core.dossier.health import read_health

            return read_health(run_dir)
        self._task.submit(job)

    def _on_loaded(self, result) -> None:
        self.samples, self.warnings = result
        self._clear_plots()
        self.warning_list.clear()
        self.warning_list.addItems([f"step {w['step']}: {w['message']}" for w in self.warnings] or ["none"])
        names = list(dict.fromkeys(n for s in self.samples for n in s.get("layers", {})))
        current = self.layers.currentText()
        self.layers.blockSignals(True)
        self.layers.clear()
        self.layers.addItems(names)
        self.layers.blockSignals(False)
        if names:
            self.layers.setCurrentText(current if current in names else names[0])
            self.show_layer(self.layers.currentText())
            self.status.setText(f"{len(self.samples)} samples, every {self.samples[0].get('every', '?')} steps, "
                                f"{len(self.warnings)} warnings")
        self.set_empty(None if names else NO_HEALTH)
        self.loaded.emit(len(self.samples))

    def _clear_plots(self) -> None:
        for plot in (self.norms, self.ratio, self.dead):
            for item in list(plot.listDataItems()):
                plot.removeItem(item)
        self.hist_image.clear()

    def series(self, layer: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one number of one layer (missing / null values left out)."""
        pts = [(s["step"], s["layers"][layer].get(key)) for s in self.samples if layer in s.get("layers", {})]
        pts = [(x, y) for x, y in pts if y is not None]
        return np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)

    def dead_source(self, layer: str) -> str | None:
        """The layer whose dead-unit share goes with `layer`: itself when it is a ReLU, else the first ReLU
        after it (a conv's units die in the ReLU that follows it)."""
        names = [self.layers.itemText(i) for i in range(self.layers.count())] or [layer]
        start = names.index(layer) if layer in names else 0
        for name in names[start:]:
            if any(s.get("layers", {}).get(name, {}).get("dead_share") is not None for s in self.samples[-3:]):
                return name
        return None

    def show_layer(self, layer: str) -> None:
        if not layer:
            return
        self._clear_plots()
        dead_layer = self.dead_source(layer)
        self.dead.setTitle(f"dead units (share) of {dead_layer}" if dead_layer else "dead units: no ReLU sampled")
        for key, colour, plot in (("weight_norm", NORM_COLOURS["weight_norm"], self.norms),
                                  ("grad_norm", NORM_COLOURS["grad_norm"], self.norms),
                                  ("update_ratio", "#27ae60", self.ratio), ("dead_share", "#9b51e0", self.dead)):
            x, y = self.series(dead_layer if key == "dead_share" else layer, key) if (
                key != "dead_share" or dead_layer) else (np.array([]), np.array([]))
            if len(x):
                if plot is not self.dead:
                    x, y = x[y > 0], y[y > 0]  # a log axis cannot show 0
                plot.plot(x, y, pen=pg.mkPen(colour, width=2), name=key.replace("_", " "))
        kept = [s for s in self.samples if "activation_hist" in s.get("layers", {}).get(layer, {})]
        if kept:
            heat = np.log1p(np.array([s["layers"][layer]["activation_hist"]["counts"] for s in kept], float)).T
            self.hist_image.setImage(heat / max(heat.max(), 1e-9), levels=(0, 1))  # bins up, steps across
            self.hist_image.setColorMap(pg.colormap.get("viridis"))
            first, last = kept[0]["step"], kept[-1]["step"]
            width = (last - first) * len(kept) / max(1, len(kept) - 1) if len(kept) > 1 else 1
            self.hist_image.setRect(first, 0, width, heat.shape[0])
        else:
            self.hist_image.clear()

    def shutdown(self) -> None:
        self._task.shutdown()
