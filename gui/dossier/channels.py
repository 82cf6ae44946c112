"""The Channels view: what each unit of a layer responds to, over the whole dataset.

Pick a layer: its channels appear as one mosaic (one ImageItem), a tile per channel holding its top-K
receptive-field crops. Click a tile: the channel's K images whole with its activation map over them, and a
bar chart of its mean activation per class (which classes it fires for). Opening the run, cutting the
crops and computing the maps run on one BackgroundTask thread (the model is used there only); the first
tiles of a layer are shown as soon as they are cut.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.concurrent import BackgroundTask
from gui.plotting.image_panes import ImagePane

FIRST_TILES = 16  # tiles cut before the grid is first shown


class ChannelsView(QWidget):
    message = Signal(str)
    channelShown = Signal(str, int)  # layer, channel (tests wait on it)
    layerShown = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dossier = None  # core.dossier.run_dossier.RunDossier
        self.layer_name: str | None = None
        self.channel: int | None = None
        # Three lanes on ONE thread (the model is used by one job at a time): opening a run, cutting a
        # layer's grid, a channel's detail. A click on a channel does not cancel the grid being cut.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._open_task, self._grid_task, self._channel_task = (
            BackgroundTask(self, pool=self._pool, imports=()) for _ in range(3))
        for task in (self._open_task, self._grid_task, self._channel_task):
            task.finished.connect(self._on_result)
            task.partial.connect(self._on_result)
            task.failed.connect(self._on_failed)
            task.progress.connect(self._on_progress)

        self.layers = QComboBox()
        self.layers.currentTextChanged.connect(self.show_layer)
        self.status = QLabel("Open a run to see what each channel responds to.")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.grid = ImagePane(min_size=240)
        self.grid.base.clicked.connect(self._grid_clicked)
        self.detail = ImagePane(min_size=160)
        self.class_plot = pg.PlotWidget()
        self.class_plot.setMinimumHeight(120)
        self.class_plot.setLabel("left", "mean activation")
        self.detail_title = QLabel("")

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layers, 1)
        top.addWidget(self.progress)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.detail_title)
        rl.addWidget(self.detail, 3)
        rl.addWidget(self.class_plot, 1)
        split = QSplitter()
        split.addWidget(self.grid)
        split.addWidget(right)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

    # ---- opening a run ---------------------------------------------------------------------------
    def open_run(self, run_dir: str) -> None:
        self.dossier = None
        self.layers.blockSignals(True)
        self.layers.clear()
        self.layers.blockSignals(False)
        self.status.setText(f"Opening the top images of {run_dir}…")
        self.progress.setVisible(True)

        def job(ctx):
            from core.dossier.run_dossier import open_run_dossier

            return ("run", open_run_dossier(run_dir, progress=ctx))
        self._grid_task.cancel()
        self._channel_task.cancel()
        self._open_task.submit(job)

    def show_layer(self, name: str) -> None:
        if self.dossier is None or name not in self.dossier.result.layers:
            return
        self.layer_name, dossier = name, self.dossier
        layer = dossier.result.layers[name]
        self.status.setText(f"{name}: {layer.channels} {'channels' if layer.kind == 'conv' else 'units'}, the top "
                            f"{dossier.result.k} of {dossier.result.images} images each. Click one.")

        def job(ctx):
            from core.dossier.render import layer_grid

            def on_tile(c, grid):
                ctx.check_cancelled()
                if c + 1 == min(FIRST_TILES, layer.channels) and c + 1 < layer.channels:
                    ctx.deliver(("grid", name, grid.copy()))  # the first tiles on screen early
                ctx.update(c + 1, layer.channels, "cutting crops")
            return ("grid", name, layer_grid(layer, dossier.image_of, on_tile=on_tile))
        self._channel_task.cancel()
        self._grid_task.submit(job)

    def show_channel(self, channel: int) -> None:
        if self.dossier is None or self.layer_name is None:
            return
        dossier, name = self.dossier, self.layer_name
        layer = dossier.result.layers[name]
        self.channel = channel

        def job(ctx):
            from core.dossier.run_dossier import channel_map
            from core.inspect.saliency import overlay

            tiles = []
            for rank, index in enumerate(layer.indices[channel]):
                ctx.check_cancelled()
                if index < 0:
                    continue
                img = dossier.image_of(int(index))
                heat = channel_map(dossier.model, dossier.input_of(int(index)), name, channel)
                tiles.append(overlay(img, heat, alpha=0.45))
            return ("channel", name, channel, _row_mosaic(tiles))
        self._channel_task.submit(job, priority=1)  # the clicked channel jumps the queue

    # ---- results ---------------------------------------------------------------------------------
    def _on_result(self, result) -> None:
        kind = result[0]
        if kind == "run":
            self.dossier = result[1]
            self.progress.setVisible(False)
            r = self.dossier.result
            note = " (computed now from the run's checkpoint)" if self.dossier.computed else ""
            if self.dossier.note:  # its file was not read, or the result not saved: said, never hidden
                note += f"; {self.dossier.note}"
            skipped = f"; not hooked: {', '.join(r.skipped)}" if r.skipped else ""
            self.message.emit(f"top images: {len(r.layers)} layers over {r.images} images{note}{skipped}")
            self.layers.addItems(list(r.layers))  # selects the first layer -> show_layer
        elif kind == "grid" and result[1] == self.layer_name:
            self.grid.show_rgb(result[2])
            self.progress.setVisible(False)
            self.layerShown.emit(result[1])
        elif kind == "channel" and result[1] == self.layer_name:
            self._show_channel_result(result[1], result[2], result[3])

    def _show_channel_result(self, name: str, channel: int, mosaic: np.ndarray) -> None:
        layer = self.dossier.result.layers[name]
        self.detail.show_rgb(mosaic)
        values = ", ".join(f"{v:.2f}" for v in layer.values[channel] if np.isfinite(v))
        self.detail_title.setText(f"{name} channel {channel}: top activations {values}")
        self.class_plot.clear()
        if layer.class_mean is not None:
            classes = self.dossier.result.classes
            means = layer.class_mean[channel]
            self.class_plot.addItem(pg.BarGraphItem(x=np.arange(len(means)), height=means, width=0.7, brush="#2f80ed"))
            self.class_plot.getAxis("bottom").setTicks([list(enumerate(classes))])
            self.class_plot.setLabel("left", "mean log-probability" if layer.ranked_by == "log_probability"
                                     else "mean activation")
        self.channelShown.emit(name, channel)

    def _grid_clicked(self, x: float, y: float) -> None:
        if self.dossier is None or self.layer_name is None:
            return
        from core.dossier.render import channel_at

        layer = self.dossier.result.layers[self.layer_name]
        channel = channel_at(x, y, layer.channels, self.dossier.result.k)
        if channel is not None:
            self.show_channel(channel)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setVisible(done < total)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.status.setText(f"Could not show the top images: {message}")
        self.message.emit(f"top images: {message}")

    def shutdown(self) -> None:
        for task in (self._open_task, self._grid_task, self._channel_task):
            task.shutdown()


def _row_mosaic(tiles: list[np.ndarray], cols: int = 3, gap: int = 4) -> np.ndarray:
    """The K overlays in a grid, all the same size (the model's input size)."""
    if not tiles:
        return np.zeros((8, 8, 3), np.uint8)
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), 40, np.uint8)
    for i, t in enumerate(tiles):
        y, x = (i // cols) * (h + gap), (i % cols) * (w + gap)
        out[y:y + h, x:x + w] = t[:, :, :3]
    return out
