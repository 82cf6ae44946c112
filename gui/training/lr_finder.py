"""The learning-rate finder in the app: a range test (core.tuning.lr) on the Train form's current settings, in
the background (gui.concurrent.BackgroundTask: progress, cancel), then its loss curve on a log learning-rate
axis: each step's loss as a point, the trend the band is read off as a line, the suggested band shaded. A click
on the plot sets the form's learning rate (`lrChosen`), and so does "Use".

The test trains a copy of the model the run would build (the weights are put back after; nothing is saved), on
a worker thread of this process: about 200 small steps, seconds for the default network.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal, Slot
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from gui.concurrent import BackgroundTask

TUNING_MODULES = ("core.tuning.lr",)
POINTS, TREND, BAND, CHOSEN = (120, 140, 170, 140), (31, 95, 191), (60, 179, 113, 60), (200, 40, 40)


def rounded_lr(lr: float) -> float:
    """Two significant digits: what a person would type (0.0023, not 0.0022871)."""
    return float(f"{lr:.2g}")


def lr_text(lr: float) -> str:
    return f"{lr:.2g}"


class LRFinderDialog(QDialog):
    lrChosen = Signal(float)  # a learning rate picked on the curve (rounded to two digits)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Find learning rate")
        self.setObjectName("lrFinderDialog")
        self.resize(720, 500)
        self.result = None  # the last core.tuning.lr.LRFindResult
        self.settings = None
        self._suggestion = ""
        self.task = BackgroundTask(self, imports=TUNING_MODULES)
        self.task.progress.connect(self._on_progress)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.task.cancelled.connect(lambda: self._set_status("Cancelled; the model and settings are untouched."))

        self.about = QLabel()
        self.about.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.cancel_button)

        self.plot_widget = pg.PlotWidget(background="w")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.setLabel("left", "training loss")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(10, 10))
        self.band = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(BAND), pen=pg.mkPen(None))
        self.band.setZValue(-10)
        self.band.hide()
        self.plot.addItem(self.band)
        self.points = self.plot.plot(pen=None, symbol="o", symbolSize=5, symbolBrush=POINTS, symbolPen=None,
                                     name="loss per step")
        self.trend = self.plot.plot(pen=pg.mkPen(TREND, width=2), name="trend")
        self.chosen = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(CHOSEN, width=1, style=Qt.PenStyle.DashLine))
        self.chosen.hide()
        self.plot.addItem(self.chosen)
        self.plot_widget.scene().sigMouseClicked.connect(self._on_plot_clicked)
        self.plot_widget.setToolTip("Click to use that learning rate")

        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_button = QPushButton("Use")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(lambda: self.choose(self._middle()))
        self.again_button = QPushButton("Run again")
        self.again_button.clicked.connect(lambda: self.settings is not None and self.start(self.settings))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        for button in (self.use_button, self.again_button, close):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.about)
        layout.addLayout(top)
        layout.addWidget(self.plot_widget, 1)
        layout.addLayout(buttons)

    # ---- running -------------------------------------------------------------------------------------
    def start(self, settings) -> None:
        """Run the range test on `settings` (core.training.session.RunSettings) in the background."""
        self.settings = settings
        cfg = settings.train
        data = settings.data.name
        self.about.setText(f"Range test on the current settings: <b>{settings.model_name}</b> on <b>{data}</b>, "
                           f"{cfg.optimizer}, batch {cfg.batch_size}, weight decay {cfg.weight_decay:g}. A copy of "
                           "the model trains for a few hundred steps while the learning rate grows; nothing is saved.")
        self.result = None
        self._clear_curve()
        self.progress.setValue(0)
        self.progress.setFormat("Building the data and model…")
        self.cancel_button.setEnabled(True)
        self.use_button.setEnabled(False)
        self.again_button.setEnabled(False)
        self._set_status("")

        def job(ctx):
            from core.tuning.lr import run_lr_find

            return run_lr_find(settings, None, progress=ctx)[0]

        self.task.submit(job)

    @property
    def running(self) -> bool:
        return self.task.busy

    def cancel(self) -> None:
        self.task.cancel()
        self.cancel_button.setEnabled(False)
        self.again_button.setEnabled(self.settings is not None)
        self.progress.setFormat("Cancelled")

    def closeEvent(self, event) -> None:
        if self.task.busy:
            self.cancel()
        super().closeEvent(event)

    def shutdown(self) -> None:
        self.task.shutdown()

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setValue(int(1000 * done / max(total, 1)))
        self.progress.setFormat(f"Step {done}/{total}: {text}" if text else f"{done}/{total}")

    @Slot(object)
    def _on_finished(self, result) -> None:
        self.result = result
        self.cancel_button.setEnabled(False)
        self.again_button.setEnabled(True)
        curve, band = result.curve, result.band
        self.progress.setValue(1000)
        self.progress.setFormat(f"{len(curve.lrs)} steps ({curve.stop_reason})")
        self.points.setData(curve.lrs, [v if math.isfinite(v) else math.nan for v in curve.losses])
        self.trend.setData(curve.lrs, curve.trend or curve.smoothed)
        self._limit_y(curve.trend or curve.smoothed)
        if math.isfinite(band.low) and math.isfinite(band.high):
            self.band.setRegion((math.log10(band.low), math.log10(band.high)))
            self.band.show()
        self.use_button.setText(f"Use {lr_text(self._middle())}")
        self.use_button.setEnabled(True)
        note = f" {band.note}." if band.note else ""
        self._suggestion = (f"Suggested: <b>{lr_text(band.low)} – {lr_text(band.high)}</b> (steepest fall "
                            f"{lr_text(band.steepest)}, lowest loss {lr_text(band.minimum)}).{note}")
        self._set_status(f"{self._suggestion} Click the curve to use that learning rate.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.cancel_button.setEnabled(False)
        self.again_button.setEnabled(self.settings is not None)
        self.progress.setFormat("Failed")
        self._set_status(f"<span style='color:#b03030'>The range test failed: {message}</span>")

    # ---- choosing --------------------------------------------------------------------------------------
    def _middle(self) -> float:
        band = self.result.band
        return rounded_lr(math.sqrt(band.low * band.high))

    def _on_plot_clicked(self, event) -> None:
        if self.result is None or event.button() != Qt.MouseButton.LeftButton:
            return
        view = self.plot.getViewBox()
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return  # a click on an axis or the legend
        self.choose_at(view.mapSceneToView(event.scenePos()).x())

    def choose_at(self, log_lr: float) -> None:
        """Use the learning rate at `log_lr` (log10, the plot's x), kept inside the range that was tried."""
        lrs = self.result.curve.lrs
        self.choose(min(max(10 ** log_lr, lrs[0]), lrs[-1]))

    def choose(self, lr: float) -> None:
        lr = rounded_lr(lr)
        self.chosen.setPos(math.log10(lr))
        self.chosen.show()
        self.lrChosen.emit(lr)
        self._set_status(f"Learning rate set to <b>{lr_text(lr)}</b> (click again to change it). {self._suggestion}")

    def scene_pos_of(self, lr: float, loss: float) -> QPointF:
        """Where (lr, loss) is on screen (the plot widget's coordinates): for a test's click."""
        scene = self.plot.getViewBox().mapViewToScene(QPointF(math.log10(lr), loss))
        return self.plot_widget.mapFromScene(scene)

    # ---- drawing -----------------------------------------------------------------------------------------
    def _clear_curve(self) -> None:
        self.points.setData([], [])
        self.trend.setData([], [])
        self.band.hide()
        self.chosen.hide()

    def _limit_y(self, line) -> None:
        """The exploding tail would squash the interesting part: up to a bit above the starting loss."""
        finite = [v for v in line if math.isfinite(v)]
        if finite:
            low, top = min(finite), max(finite[: max(1, len(finite) // 5)])
            self.plot.setYRange(low - 0.05 * abs(low), top * 1.3 + 1e-9, padding=0)

    def _set_status(self, text: str) -> None:
        self.summary.setText(text)
