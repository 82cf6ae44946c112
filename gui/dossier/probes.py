"""The probe timeline: a slider scrubs through a run's probe snapshots and shows, as they were then, each
probe's prediction (top-k bars) and where the model looked (the recorded saliency over the image, with a
colour bar); a plot shows the probability of each likely class over the run (the true class drawn thick),
with a line at the snapshot shown. A probe pinned from outside the class folders has no true class: the user
names it here, and it is kept with the probe (RUN/probes/, core/dossier/probe_reading.py). Reads and writes
on a BackgroundTask."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from gui.concurrent import BackgroundTask
from gui.plotting.empty_hint import EmptyHint
from gui.plotting.image_panes import ImagePane
from gui.plotting.topk_bars import TopKBars

READ_IMPORTS = ("core.dossier.probe_reading", "core.io.images")
NO_PROBES = ("This run has no probe images. Pin an image in Inspect (Pin as probe) before pressing Train, or "
             "train with --probe IMAGE, to follow what the model makes of it as it learns.")
NOT_NAMED = "not named"
MOST_CLASSES = 5  # lines in the plot: the classes that were ever most likely, and the true one
NO_RUN = ("Open a run (Open Run… above, or File > Open Run Dossier…) to follow its probe images: what the model "
          "made of each one over the run.")
PALETTE = ("#2f80ed", "#eb5757", "#27ae60", "#f2994a", "#9b51e0", "#56ccf2", "#828282")
HEAT_MAP = "turbo"


class ProbeTimelineView(QWidget):
    loaded = Signal(int)  # snapshots read
    trueClassSaved = Signal(str)  # the probe file whose true class was written

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.run_dir: str | None = None
        self.index: dict = {}
        self.snapshots: list[dict] = []
        self.images: list[np.ndarray | None] = []
        self._probs: dict[int, np.ndarray] = {}  # probe -> [snapshots, classes], computed when first shown
        self._task = BackgroundTask(self, imports=READ_IMPORTS)
        self._task.finished.connect(self._on_loaded)
        self._task.failed.connect(lambda text: self._show_empty(f"Could not read the probe timeline: {text}"))
        self._save_task = BackgroundTask(self, imports=READ_IMPORTS)
        self._save_task.finished.connect(lambda file: self.trueClassSaved.emit(str(file)))
        self._save_task.failed.connect(lambda text: self.when.setText(f"The true class was not saved: {text}"))
        self._build()
        self._show_empty(NO_RUN)

    def _build(self) -> None:
        self.probe = QComboBox()
        self.probe.currentIndexChanged.connect(lambda _i: self._on_probe_changed())
        self.true_class = QComboBox()
        self.true_class.setToolTip("The class this image really shows: kept with the probe in the run folder, so "
                                   "the plot can follow the probability of the right answer")
        self.true_class.activated.connect(self._on_true_class_chosen)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.show_snapshot)
        self.when = QLabel("")
        self.when.setWordWrap(True)
        self.image = ImagePane(min_size=160)
        self.heat = self.image.add_layer(opacity=0.65)
        self.image.add_colour_bar(HEAT_MAP, "where the model looked", ticks={0.0: "low", 1.0: "high"})
        self.image.setToolTip("The probe with the saliency recorded at this snapshot (for the predicted class, "
                              "or the true class when its folder names it)")
        self.bars = TopKBars()
        self.plot = pg.PlotWidget(title="probability of each class over the run")
        self.plot.setBackground("w")
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "probability")
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.addLegend(offset=(-10, 10), brush=pg.mkBrush(255, 255, 255, 230), pen=pg.mkPen(200, 200, 200))
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self.hint = EmptyHint(self.plot, NO_RUN)
        top = QHBoxLayout()
        top.addWidget(QLabel("Probe"))
        top.addWidget(self.probe, 2)
        top.addWidget(QLabel("True class"))
        top.addWidget(self.true_class, 1)
        self.snapshot_box = QWidget()  # the image and its bars: hidden while there is no snapshot to show
        middle = QHBoxLayout(self.snapshot_box)
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(self.image, 1)
        middle.addWidget(self.bars, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.slider)
        layout.addWidget(self.when)
        layout.addWidget(self.snapshot_box, 2)
        layout.addWidget(self.plot, 2)

    # ---- reading -------------------------------------------------------------------------------------
    def open_run(self, run_dir: str) -> None:
        self.run_dir = str(run_dir)

        def job(ctx):
            from core.dossier.probe_reading import read_probes
            from core.io.images import load_image

            index, snapshots = read_probes(run_dir)
            images = []
            for f in index.get("files", []):
                ctx.check_cancelled()
                try:
                    images.append(np.asarray(load_image(f).convert("RGB")))
                except Exception:  # a moved or deleted probe: the numbers still show
                    images.append(None)
            return index, snapshots, images
        self._task.submit(job)

    def _on_loaded(self, result) -> None:
        self.index, self.snapshots, self.images = result
        self._probs = {}
        files = self.index.get("files", [])
        self.probe.blockSignals(True)
        self.probe.clear()
        self.probe.addItems([f.rsplit("/", 1)[-1] for f in files])
        self.probe.blockSignals(False)
        self.true_class.clear()
        self.true_class.addItem(NOT_NAMED, None)
        for name in self.index.get("classes", []):
            self.true_class.addItem(str(name), str(name))
        if not files or not self.snapshots:
            self._show_empty(NO_PROBES if not files else "The run has not recorded a probe snapshot yet.")
        else:
            for widget in (self.probe, self.true_class, self.slider):
                widget.setEnabled(True)
            self.snapshot_box.setVisible(True)
            self.when.setVisible(True)
            self.slider.blockSignals(True)
            self.slider.setRange(0, len(self.snapshots) - 1)
            self.slider.setValue(len(self.snapshots) - 1)
            self.slider.blockSignals(False)
            self._on_probe_changed()
        self.loaded.emit(len(self.snapshots))

    def _show_empty(self, text: str) -> None:
        """Nothing to show: say why (and what to do) instead of a blank plot and a stale image."""
        self.snapshots, self.images, self._probs = [], [], {}
        for widget in (self.probe, self.true_class, self.slider):
            widget.setEnabled(False)
        self.slider.setRange(0, 0)
        self.when.setText(text)
        self.when.setVisible(False)  # the plot says it, once
        self.snapshot_box.setVisible(False)
        self.bars.set_entries([])
        self.bars.set_placeholder("No probe snapshot")
        self.image.show_rgb(None)
        self.heat.clear()
        self._clear_lines()
        self.cursor.setVisible(False)
        self.hint.show(text)

    # ---- the true class ------------------------------------------------------------------------------
    def true_class_of(self, probe: int) -> str | None:
        true = self.index.get("true") or []
        return true[probe] if 0 <= probe < len(true) else None

    def name_true_class(self, name: str | None) -> None:
        """The user says which class the current probe shows (None: not named); saved with the probe."""
        p = self.probe.currentIndex()
        files = self.index.get("files", [])
        if self.run_dir is None or not 0 <= p < len(files):
            return
        true = self.index.setdefault("true", [None] * len(files))
        true[p] = name
        self._select_true_class(name)
        self._draw_lines(p)
        self.show_snapshot(self.slider.value())
        run_dir, file = self.run_dir, files[p]

        def job(ctx):
            from core.dossier.probe_reading import name_true_class

            name_true_class(run_dir, file, name)
            return file
        self._save_task.submit(job)

    def _on_true_class_chosen(self, row: int) -> None:
        self.name_true_class(self.true_class.itemData(row))

    def _select_true_class(self, name: str | None) -> None:
        found = self.true_class.findData(name) if name is not None else 0
        self.true_class.setCurrentIndex(max(0, found))

    # ---- showing -------------------------------------------------------------------------------------
    def _on_probe_changed(self) -> None:
        p = self.probe.currentIndex()
        if p < 0 or not self.snapshots:
            return
        self._select_true_class(self.true_class_of(p))
        self._draw_lines(p)
        self.show_snapshot(self.slider.value())

    def probabilities(self, probe: int) -> np.ndarray:
        """[snapshots, classes]: the probe's probability of every class at each snapshot."""
        if probe not in self._probs:
            from core.dossier.probe_reading import class_probabilities

            self._probs[probe] = class_probabilities(self.snapshots, probe, [str(c) for c in self.index["classes"]])
        return self._probs[probe]

    def shown_classes(self) -> list[str]:
        """The classes drawn as lines for the current probe (tests; the legend says the same)."""
        return [item.name() for item in self.plot.getPlotItem().listDataItems()]

    def _clear_lines(self) -> None:
        for item in list(self.plot.getPlotItem().listDataItems()):
            self.plot.removeItem(item)

    def _draw_lines(self, p: int) -> None:
        from core.dossier.probe_reading import classes_to_show

        classes = [str(c) for c in self.index.get("classes", [])]
        probs = self.probabilities(p)
        true = self.true_class_of(p)
        epochs = np.array([float(s.get("epoch", i)) for i, s in enumerate(self.snapshots)])
        self._clear_lines()
        for n, k in enumerate(classes_to_show(probs, classes, true, MOST_CLASSES)):
            is_true = classes[k] == true
            name = f"{classes[k]} (true)" if is_true else classes[k]
            pen = pg.mkPen(PALETTE[n % len(PALETTE)], width=4 if is_true else 2)
            self.plot.plot(epochs, probs[:, k], pen=pen, name=name, symbol="o", symbolSize=5,
                           symbolBrush=PALETTE[n % len(PALETTE)], connect="finite")
        last = float(epochs.max()) if len(epochs) else 1.0
        self.plot.setXRange(min(0.0, float(epochs.min())), max(last, 1.0), padding=0.03)  # never a collapsed axis
        self.cursor.setVisible(True)
        self.hint.hide()

    def show_snapshot(self, i: int) -> None:
        p = self.probe.currentIndex()
        if not self.snapshots or p < 0 or not 0 <= i < len(self.snapshots):
            return
        snap = self.snapshots[i]
        probe = snap["probes"][p]
        true = self.true_class_of(p)
        judged = "" if true is None else (" (right)" if str(probe["predicted"]) == true else f" (true: {true})")
        self.when.setText(f"epoch {snap['epoch']:.2f}, step {snap['step']}: predicted {probe['predicted']}{judged}"
                          + ("" if true is not None else "  ·  name the true class above to follow the right "
                                                         "answer"))
        self.bars.set_entries([(str(label), prob) for label, prob in probe["top"]])
        img = self.images[p] if p < len(self.images) else None
        self.image.show_rgb(img)
        if img is not None and probe.get("saliency") is not None:
            self.image.show_scalar(_heat_over(probe["saliency"], img.shape[:2]), HEAT_MAP, item=self.heat,
                                   fade_low=True)
        else:
            self.heat.clear()
        self.cursor.setValue(float(snap.get("epoch", i)))

    def shutdown(self) -> None:
        self._task.shutdown()
        self._save_task.shutdown()


def _heat_over(saliency: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The recorded 32 x 32 map, stretched to its own 0..1 and resized (bilinear) over the image."""
    from PIL import Image

    values = saliency.astype(np.float32)
    span = float(values.max() - values.min())
    values = (values - values.min()) / span if span > 0 else np.zeros_like(values)
    heat = Image.fromarray((values * 255).astype(np.uint8)).resize((shape[1], shape[0]), Image.BILINEAR)
    return np.asarray(heat, dtype=np.float32) / 255.0
