"""Live training plots (pyqtgraph): loss per step (raw + EMA), loss and accuracy per epoch, learning rate.

Signals only append to numpy buffers and mark the plots dirty; a single-shot timer then redraws what is dirty,
at most every REDRAW_INTERVAL_MS and only while the plots are on screen (a hidden tab is drawn when it shows).
So redraw cost does not grow with how often the engine reports, nothing runs while nothing arrives, and the
window leaves the CPU to the run it trains (benchmarks/training.py measures both).
"""
from __future__ import annotations

import math
import time

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from core.runs.reducer import rewind_of
from gui.plotting.axis_range import follow_in_steps
from gui.plotting.empty_hint import EmptyHint
from gui.plotting.plot_buffer import PlotBuffer
from gui.plotting.smoothing import debiased_ema

# Records arrive in batches every RunHandle poll (POLL_MS, 500 ms); a redraw costs a few ms of the GUI thread that the
# training process then lacks (2 cores). Twice a second still reads as live.
REDRAW_INTERVAL_MS = 500
EMA_SMOOTHING = 0.9  # weight of the past in the smoothed loss line (as TensorBoard's slider)

COLOURS = {"raw": (120, 160, 230, 110), "ema": (40, 90, 200), "train": (40, 90, 200), "val": (230, 120, 40),
           "lr": (60, 160, 90), "best": (200, 40, 40)}
IDLE_HINT = "Press Train (Ctrl+Return) to start a run: the loss of every step is drawn here as it learns"
WAITING_HINT = "Waiting for the run's first steps…"
EPOCH_HINTS = {"epoch_loss_plot": "Training and validation loss per epoch appear after the first epoch",
               "acc_plot": "Training and validation accuracy per epoch appear after the first epoch",
               "lr_plot": "The learning rate of every step"}


def _finite(value) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.nan


class TrainingPlots(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.step_loss = PlotBuffer()  # every reported step
        self.step_loss_ema = PlotBuffer()
        self.step_lr = PlotBuffer()
        self.epoch_train_loss = PlotBuffer(64)
        self.epoch_val_loss = PlotBuffer(64)
        self.epoch_train_acc = PlotBuffer(64)
        self.epoch_val_acc = PlotBuffer(64)
        self._ema = (0.0, 0)  # debiased EMA state (see gui.plotting.smoothing)
        self._best: tuple[float, float] | None = None  # (epoch, validation accuracy) of the best epoch
        self._lowest_loss: tuple[float, float] | None = None  # (epoch, validation loss) of the lowest one
        self._dirty = False
        self.redraw_count = 0
        self._last_redraw = -math.inf  # time.monotonic() of the last redraw

        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

        self.loss_plot = self._plot(0, 0, "Training loss", "step", "loss")
        self.epoch_loss_plot = self._plot(0, 1, "Loss per epoch", "epoch", "loss")
        # Accuracy climbs towards the top right: its legend sits bottom right, out of the curves' way.
        self.acc_plot = self._plot(1, 0, "Accuracy per epoch", "epoch", "accuracy", legend_offset=(-10, -10))
        self.lr_plot = self._plot(1, 1, "Learning rate", "step", "lr")
        self.acc_plot.setYRange(0, 1, padding=0.02)

        # Step curves can hold millions of points: peak downsampling keeps every spike visible,
        # clip-to-view draws only the visible range, and the values are finite (the engine stops on NaN).
        step_opts = dict(skipFiniteCheck=True)
        self.raw_curve = self.loss_plot.plot(pen=pg.mkPen(COLOURS["raw"], width=1), name="loss", **step_opts)
        self.ema_curve = self.loss_plot.plot(pen=pg.mkPen(COLOURS["ema"], width=2), name="smoothed", **step_opts)
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen(COLOURS["lr"], width=2), name="lr", **step_opts)
        for curve in (self.raw_curve, self.ema_curve, self.lr_curve):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        sym = dict(symbol="o", symbolSize=6)
        self.train_loss_curve = self.epoch_loss_plot.plot(pen=pg.mkPen(COLOURS["train"], width=2), name="train",
                                                          symbolBrush=COLOURS["train"], **sym)
        self.val_loss_curve = self.epoch_loss_plot.plot(pen=pg.mkPen(COLOURS["val"], width=2), name="validation",
                                                        symbolBrush=COLOURS["val"], **sym)
        self.train_acc_curve = self.acc_plot.plot(pen=pg.mkPen(COLOURS["train"], width=2), name="train",
                                                  symbolBrush=COLOURS["train"], **sym)
        self.val_acc_curve = self.acc_plot.plot(pen=pg.mkPen(COLOURS["val"], width=2), name="validation",
                                                symbolBrush=COLOURS["val"], **sym)

        # Each epoch plot marks its own best: the loss plot the lowest validation loss, the accuracy plot the
        # best validation accuracy (the epoch best.pt holds). Labels sit half-way up, beside the line: the legends
        # are in corners, and curves reach the right end low (loss) or high (accuracy), never in the middle.
        self.best_lines = [self._best_line(self.acc_plot)]
        self.lowest_loss_line = self._best_line(self.epoch_loss_plot)
        self.hints = {"loss_plot": EmptyHint(self.loss_plot, IDLE_HINT)}
        self.hints.update({name: EmptyHint(getattr(self, name), text) for name, text in EPOCH_HINTS.items()})

        self._pairs = [
            (self.raw_curve, self.step_loss), (self.ema_curve, self.step_loss_ema), (self.lr_curve, self.step_lr),
            (self.train_loss_curve, self.epoch_train_loss), (self.val_loss_curve, self.epoch_val_loss),
            (self.train_acc_curve, self.epoch_train_acc), (self.val_acc_curve, self.epoch_val_acc),
        ]
        self._drawn = [0] * len(self._pairs)  # how many points each curve was last given
        self.timer = QTimer(self)  # armed by _mark_dirty: no wake-ups while nothing arrives
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._redraw_when_shown)

    @staticmethod
    def _best_line(plot: pg.PlotItem) -> pg.InfiniteLine:
        pen = pg.mkPen(COLOURS["best"], width=1, style=Qt.PenStyle.DashLine)
        line = pg.InfiniteLine(angle=90, movable=False, pen=pen, label="best",
                               labelOpts={"position": 0.5, "color": COLOURS["best"],
                                          "fill": pg.mkBrush(255, 255, 255, 225)})
        line.setVisible(False)
        plot.addItem(line, ignoreBounds=True)
        return line

    def _plot(self, row: int, col: int, title: str, x_label: str, y_label: str,
              legend_offset: tuple[int, int] = (-10, 10)) -> pg.PlotItem:
        plot = self.view.addPlot(row=row, col=col, title=title)
        plot.setLabel("bottom", x_label)
        plot.setLabel("left", y_label)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.addLegend(offset=legend_offset, brush=pg.mkBrush(255, 255, 255, 230), pen=pg.mkPen(200, 200, 200))
        plot.getAxis("left").enableAutoSIPrefix(False)  # 0.001, not "1 (x0.001)"
        plot.setMenuEnabled(True)
        # Tick labels are the costly part of a repaint (text). Cached as pixmaps, an axis is only drawn
        # again when its range changes, and start_run() fixes the x ranges so that is rare.
        for name in ("left", "bottom"):
            plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        return plot

    # ---- data in -------------------------------------------------------------------------------------
    @Slot(dict)
    def start_run(self, info: dict) -> None:
        """Fix the x ranges to the whole run (the engine's fit info): the axes then stay put while the
        curves grow, instead of rescaling at every report. The user can still zoom; "A" restores auto."""
        total, epochs, start = info.get("total_steps"), info.get("epochs"), info.get("start_epoch") or 0
        if total:
            first = start * (total // max(1, epochs)) if epochs else 0
            for plot in (self.loss_plot, self.lr_plot):
                plot.setXRange(first, total, padding=0.02)
        if epochs:
            for plot in (self.epoch_loss_plot, self.acc_plot):
                plot.setXRange(start + 0.5, epochs + 0.5, padding=0)
                axis = plot.getAxis("bottom")
                if epochs - start <= 20:
                    axis.setTickSpacing(1, 1)  # whole epochs, no "2.5"
                else:
                    axis.setTickSpacing()  # automatic

    def clear(self) -> None:
        for _, buffer in self._pairs:
            buffer.clear()
        self._drawn = [-1] * len(self._pairs)
        self._ema = (0.0, 0)
        self._best = self._lowest_loss = None
        self._mark_best()
        self.hints["loss_plot"].show(WAITING_HINT)
        for plot in (self.loss_plot, self.epoch_loss_plot, self.lr_plot):
            plot.enableAutoRange()
        self.acc_plot.enableAutoRange(axis="x")  # accuracy keeps its fixed 0..1
        self._mark_dirty()

    def add_losses(self, steps, losses, lrs=None) -> None:
        """Append (step, loss) points and each step's learning rate; the EMA line follows. No drawing here."""
        if len(steps) == 0:
            return
        self.step_loss.extend(steps, losses)
        smoothed, self._ema = debiased_ema(losses, EMA_SMOOTHING, self._ema)
        self.step_loss_ema.extend(steps, smoothed)
        if lrs is not None:
            keep = [(s, v) for s, v in zip(steps, lrs) if math.isfinite(v)]
            if keep:
                self.step_lr.extend([s for s, _ in keep], [v for _, v in keep])
        self._mark_dirty()

    @Slot(list)
    def add_records(self, records: list) -> None:
        """The one way data gets in: core.runs.records Records, from the app's own run or a followed file."""
        steps, losses, lrs = [], [], []

        def flush_steps() -> None:
            if steps:
                self.add_losses(steps, losses, lrs)
                steps.clear(), losses.clear(), lrs.clear()

        for record in records:
            kind = record.get("kind")
            rewind = rewind_of(record)  # the one resume rule (core.runs.reducer): each step and epoch shows once
            if kind == "step":
                loss = _finite(record.get("loss"))
                if record.get("step") is not None and math.isfinite(loss):  # curves skip no finite check
                    steps.append(record["step"])
                    losses.append(loss)
                    lrs.append(_finite(record.get("lr")))
                continue
            flush_steps()
            if rewind is not None:
                self._drop_after(rewind.step, rewind.epoch)
            elif kind == "start":
                self.start_run(record)
            elif kind == "epoch" and record.get("epoch") is not None:
                self._add_epoch(record)
        flush_steps()

    def _drop_after(self, step: int, epoch: int) -> None:
        """A resume: the steps and epochs after its position are written again by the resumed run."""
        for buffer in (self.step_loss, self.step_loss_ema, self.step_lr):
            buffer.drop_after(step)
        for buffer in (self.epoch_train_loss, self.epoch_val_loss, self.epoch_train_acc, self.epoch_val_acc):
            buffer.drop_after(epoch)
        # The smoothed line goes on from its last kept point (the debiased EMA's state, taken back from it).
        n = len(self.step_loss_ema)
        self._ema = (float(self.step_loss_ema.y[-1]) * (1 - EMA_SMOOTHING ** n), n) if n else (0.0, 0)
        self._best = max(((e, a) for e, a in zip(self.epoch_val_acc.x, self.epoch_val_acc.y) if math.isfinite(a)),
                         key=lambda p: p[1], default=None)
        self._lowest_loss = min(((e, v) for e, v in zip(self.epoch_val_loss.x, self.epoch_val_loss.y)
                                 if math.isfinite(v)), key=lambda p: p[1], default=None)
        self._mark_best()
        self._mark_dirty()

    def _add_epoch(self, m: dict) -> None:
        e = m["epoch"]
        self.epoch_train_loss.append(e, _finite(m.get("train_loss")))
        val_loss = _finite(m.get("val_loss"))
        self.epoch_val_loss.append(e, val_loss)
        if math.isfinite(val_loss) and (self._lowest_loss is None or val_loss < self._lowest_loss[1]):
            self._lowest_loss = (e, val_loss)
            self._mark_best()
        self.epoch_train_acc.append(e, _finite(m.get("train_acc")))
        val_acc = _finite(m.get("val_acc"))
        self.epoch_val_acc.append(e, val_acc)
        if math.isfinite(val_acc) and (self._best is None or val_acc > self._best[1]):
            self._best = (e, val_acc)
            self._mark_best()
        self._mark_dirty()

    def _mark_best(self) -> None:
        """A dashed line at the best validation accuracy's epoch (accuracy plot) and at the lowest validation
        loss's epoch (loss plot): each plot marks the best of what it shows."""
        for line, best, text in ((self.best_lines[0], self._best, "best val {:.1%}"),
                                 (self.lowest_loss_line, self._lowest_loss, "lowest val loss {:.3g}")):
            line.setVisible(best is not None)
            if best is not None:
                line.setValue(best[0])
                line.label.setFormat(text.format(best[1]))

    @property
    def best_epoch(self) -> int | None:
        """The epoch of the best validation accuracy (best.pt's)."""
        return None if self._best is None else int(self._best[0])

    @property
    def lowest_loss_epoch(self) -> int | None:
        return None if self._lowest_loss is None else int(self._lowest_loss[0])

    # ---- drawing -------------------------------------------------------------------------------------
    def _mark_dirty(self) -> None:
        self._dirty = True
        if not self.timer.isActive():
            wait = REDRAW_INTERVAL_MS - (time.monotonic() - self._last_redraw) * 1000
            self.timer.start(int(max(0.0, wait)))

    @Slot()
    def _redraw_when_shown(self) -> None:
        if self.isVisible():  # hidden (another tab): it stays dirty and showEvent draws it
            self.redraw_if_dirty()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self._mark_dirty()

    @Slot()
    def redraw_if_dirty(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.redraw_count += 1
        self._last_redraw = time.monotonic()
        for i, (curve, buffer) in enumerate(self._pairs):
            if len(buffer) != self._drawn[i]:  # epoch curves change once an epoch: skip them otherwise
                self._drawn[i] = len(buffer)
                curve.setData(buffer.x, buffer.y)
                if buffer is self.step_loss:  # the smoothed line lies within the raw one's range
                    follow_in_steps(self.loss_plot, [buffer.y])
                elif buffer is self.step_lr:
                    follow_in_steps(self.lr_plot, [buffer.y])
        for name, buffers in (("loss_plot", (self.step_loss,)), ("lr_plot", (self.step_lr,)),
                              ("epoch_loss_plot", (self.epoch_train_loss, self.epoch_val_loss)),
                              ("acc_plot", (self.epoch_train_acc, self.epoch_val_acc))):
            self.hints[name].set_empty(not any(len(b) for b in buffers))
