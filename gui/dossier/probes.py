"""The probe timeline: a slider scrubs through a run's probe snapshots and shows, as they were then, each
probe's prediction (top-k bars) and saliency over the image; a plot shows the probe's probability of its
true class over steps, with a line at the snapshot shown. Reads RUN/probes/ on a BackgroundTask."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from gui.concurrent import BackgroundTask
from gui.plotting.image_panes import ImagePane
from gui.plotting.topk_bars import TopKBars


class ProbeTimelineView(QWidget):
    loaded = Signal(int)  # snapshots read

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.index: dict = {}
        self.snapshots: list[dict] = []
        self.images: list[np.ndarray | None] = []
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_loaded)
        self._task.failed.connect(lambda text: self.when.setText(f"Could not read the probe timeline: {text}"))
        self.probe = QComboBox()
        self.probe.currentIndexChanged.connect(lambda _i: self.show_snapshot(self.slider.value()))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.show_snapshot)
        self.when = QLabel("Pin probe images (--probe IMAGE) when training to follow them here.")
        self.image = ImagePane(min_size=160)
        self.heat = self.image.add_layer(opacity=0.55)
        self.bars = TopKBars()
        self.plot = pg.PlotWidget(title="probability of the true class")
        self.plot.setYRange(0, 1)
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888"))
        self.plot.addItem(self.cursor)
        top = QHBoxLayout()
        top.addWidget(QLabel("Probe"))
        top.addWidget(self.probe, 1)
        middle = QHBoxLayout()
        middle.addWidget(self.image, 1)
        middle.addWidget(self.bars, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.slider)
        layout.addWidget(self.when)
        layout.addLayout(middle, 2)
        layout.addWidget(self.plot, 1)

    def open_run(self, run_dir: str) -> None:
        def job(ctx):
            from core.dossier.probes import read_probes
            from core.io.images import load_image

            index, snapshots = read_probes(run_dir)
            images = []
            for f in index.get("files", []):
                try:
                    images.append(np.asarray(load_image(f).convert("RGB")))
                except Exception:  # a moved or deleted probe: the numbers still show
                    images.append(None)
            return index, snapshots, images
        self._task.submit(job)

    def _on_loaded(self, result) -> None:
        self.index, self.snapshots, self.images = result
        self.probe.blockSignals(True)
        self.probe.clear()
        self.probe.addItems([f.rsplit("/", 1)[-1] for f in self.index.get("files", [])])
        self.probe.blockSignals(False)
        self.slider.setRange(0, max(0, len(self.snapshots) - 1))
        self.slider.setValue(len(self.snapshots) - 1)
        self.show_snapshot(self.slider.value())
        self.loaded.emit(len(self.snapshots))

    def show_snapshot(self, i: int) -> None:
        p = self.probe.currentIndex()
        if not self.snapshots or p < 0 or i >= len(self.snapshots):
            return
        snap = self.snapshots[i]
        probe = snap["probes"][p]
        self.when.setText(f"epoch {snap['epoch']:.2f}, step {snap['step']}: predicted {probe['predicted']}")
        self.bars.set_entries([(str(label), prob) for label, prob in probe["top"]])
        img = self.images[p] if p < len(self.images) else None
        if img is not None:
            self.image.show_rgb(img)
            from PIL import Image

            heat = np.asarray(Image.fromarray(probe["saliency"]).resize((img.shape[1], img.shape[0]), Image.BILINEAR))
            self.image.show_scalar(heat.astype(np.float32) / 255.0, "inferno", item=self.heat, fade_low=True)
        steps = [s["step"] for s in self.snapshots]
        probs = [s["probes"][p]["true_prob"] for s in self.snapshots]
        self.plot.clear()
        self.plot.addItem(self.cursor)
        if all(v is not None for v in probs):
            self.plot.plot(steps, probs, pen=pg.mkPen("#2f80ed", width=2), symbol="o", symbolSize=5)
        self.cursor.setValue(snap["step"])

    def shutdown(self) -> None:
        self._task.shutdown()
