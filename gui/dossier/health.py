"""The Health view: per layer, over the run, weight and gradient norms, the update-to-weight ratio (with
the ~1e-3 rule-of-thumb line), the dead-unit share and the activation histogram as a heat map over steps
(one ImageItem: steps across, bins up), plus the warnings that name a layer and say what to do.
Reads RUN/layer_health.jsonl on a BackgroundTask (no torch needed)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListWidget, QVBoxLayout, QWidget

from gui.concurrent import BackgroundTask


class HealthView(QWidget):
    loaded = Signal(int)  # samples read (tests wait on it)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.samples: list[dict] = []
        self.warnings: list[dict] = []
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_loaded)
        self._task.failed.connect(lambda m: self.status.setText(f"Could not read the layer health: {m}"))
        self.layers = QComboBox()
        self.layers.currentTextChanged.connect(self.show_layer)
        self.status = QLabel("Train with layer health on (--layer-health-every 50, or the setting) to see it here.")
        self.status.setWordWrap(True)
        self.plots = pg.GraphicsLayoutWidget()
        self.norms = self.plots.addPlot(row=0, col=0, title="weight / gradient norm")
        self.norms.setLogMode(y=True)
        self.norms.addLegend(offset=(5, 5))
        self.ratio = self.plots.addPlot(row=1, col=0, title="update / weight ratio (line: 1e-3)")
        self.ratio.setLogMode(y=True)
        self.ratio.addItem(pg.InfiniteLine(pos=-3, angle=0, pen=pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine)))
        self.dead = self.plots.addPlot(row=2, col=0, title="dead units (share)")
        self.dead.setYRange(0, 1)
        self.hist = self.plots.addPlot(row=3, col=0, title="activation histogram over steps (bins up, log counts)")
        self.hist_image = pg.ImageItem(axisOrder="row-major")
        self.hist.addItem(self.hist_image)
        self.warning_list = QListWidget()
        self.warning_list.setMaximumHeight(80)
        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layers, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.plots, 1)
        layout.addWidget(QLabel("Warnings"))
        layout.addWidget(self.warning_list)

    def open_run(self, run_dir: str) -> None:
        def job(ctx):
            from core.dossier.health import read_health

            return read_health(run_dir)
        self._task.submit(job)

    def _on_loaded(self, result) -> None:
        self.samples, self.warnings = result
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
        self.loaded.emit(len(self.samples))

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
        for plot in (self.norms, self.ratio, self.dead):
            for item in list(plot.listDataItems()):
                plot.removeItem(item)
        dead_layer = self.dead_source(layer)
        self.dead.setTitle(f"dead units (share) of {dead_layer}" if dead_layer else "dead units: no ReLU sampled")
        for key, colour, plot in (("weight_norm", "#2f80ed", self.norms), ("grad_norm", "#eb5757", self.norms),
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
