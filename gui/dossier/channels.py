"""The Channels view: what each unit of a layer responds to, over the whole dataset, and what it would most
like to see.

Pick a layer: its channels appear as one mosaic (one ImageItem), a cell per channel holding its top-K
receptive-field crops (Real), a picture optimised to excite it (Synthesised; for the output layer, one per
class) or both side by side, with each picture's sanity number under it (core/featurevis/grid.py says what
the numbers are). Click a cell: the channel's K images whole with its activation map over them (and its
picture first), and a bar chart of its mean activation per class (which classes it fires for). Opening the
run, cutting the crops and computing the maps run on one BackgroundTask thread (the model is used there only);
the pictures are made on another (gui/dossier/unit_pictures.py). For a run that kept first-layer pictures
after every epoch, a slider replays them.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QThreadPool, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.concurrent import BackgroundTask
from gui.dossier.unit_pictures import UnitPictures
from gui.plotting.empty_hint import EmptyHint
from gui.plotting.image_panes import ImagePane

FIRST_TILES = 16  # tiles cut before the grid is first shown
OVERLAY_MAP = "jet"  # core.inspect.saliency.overlay's colour map: the colour bar must say the same
NO_CHANNEL = "Click a channel in the grid: its top images with where it fires, and its mean activation per class"
NO_RUN = "Open a run (Open Run… above) to see what each channel of its layers responds to"
MODE_TITLES = {"real": "Real", "synthesised": "Synthesised", "both": "Both"}
MODE_TIPS = {"real": "each channel's top images, cropped to what it sees",
             "synthesised": "a picture optimised to excite each channel, with its sanity number",
             "both": "the real crops and the synthesised picture side by side"}


class ChannelsView(QWidget):
    message = Signal(str)
    channelShown = Signal(str, int)  # layer, channel (tests wait on it)
    layerShown = Signal(str)
    gridShown = Signal(str, str)  # layer, mode: a whole grid is on screen (with the pictures there are)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dossier = None  # core.dossier.run_dossier.RunDossier
        self.run_dir: str | None = None
        self.layer_name: str | None = None
        self.channel: int | None = None
        self.mode = "real"
        self.geometry = None  # core.featurevis.grid.CompareGeometry of the grid on screen
        self.shown_pictures = None  # the VisResult drawn in the grid on screen (None in Real)
        self.drawn: tuple | None = None  # (layer, mode, VisResult or None) of the last whole grid drawn
        self._tiles: dict[str, list] = {}  # layer -> its real tiles cut so far (None: not yet)
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
        self.pictures = UnitPictures(self)
        self.pictures.ready.connect(self._on_pictures)
        self.pictures.failed.connect(self._on_pictures_failed)
        self.pictures.progress.connect(self._on_pictures_progress)
        self.pictures.running.connect(self._on_pictures_running)

        self.layers = QComboBox()
        self.layers.currentTextChanged.connect(self.show_layer)
        self.mode_buttons = QButtonGroup(self)
        mode_row = QHBoxLayout()
        mode_row.setSpacing(4)
        for mode, title in MODE_TITLES.items():
            button = QRadioButton(title)
            button.setToolTip(MODE_TIPS[mode])
            button.setChecked(mode == self.mode)
            button.toggled.connect(lambda on, m=mode: on and self.set_mode(m))
            self.mode_buttons.addButton(button)
            mode_row.addWidget(button)
        self.mode_button = {b.text(): b for b in self.mode_buttons.buttons()}
        self.status = QLabel("Open a run to see what each channel responds to.")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.pictures_progress = QProgressBar()
        self.pictures_progress.setFormat("pictures %p%")
        self.pictures_progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("stop making pictures (those made so far stay)")
        self.cancel_button.clicked.connect(self.pictures.cancel)
        self.cancel_button.setVisible(False)
        self.epoch_slider = QSlider(Qt.Orientation.Horizontal)
        self.epoch_slider.valueChanged.connect(self._epoch_moved)
        self.epoch_label = QLabel("")
        self.epoch_row = QWidget()
        er = QHBoxLayout(self.epoch_row)
        er.setContentsMargins(0, 0, 0, 0)
        er.addWidget(QLabel("Epoch"))
        er.addWidget(self.epoch_slider, 1)
        er.addWidget(self.epoch_label)
        self.epoch_row.setVisible(False)
        self.grid = ImagePane(min_size=240)
        self.grid.base.clicked.connect(self._grid_clicked)
        self.detail = ImagePane(min_size=160)
        self.detail.add_colour_bar(OVERLAY_MAP, "channel activation", ticks={0.0: "low", 1.0: "high"})
        self.detail.setVisible(False)  # until a channel is clicked
        self.class_plot = pg.PlotWidget()
        self.class_plot.setBackground("w")
        self.class_plot.setMinimumHeight(120)
        self.class_plot.setLabel("left", "mean activation")
        self.class_plot.getAxis("left").enableAutoSIPrefix(False)  # 0.4, not "400 (x0.001)" with the unit clipped
        self.class_hint = EmptyHint(self.class_plot, NO_RUN)
        self.detail_title = QLabel("")
        self.detail_title.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layers, 1)
        top.addSpacing(12)
        top.addLayout(mode_row)
        top.addWidget(self.progress)
        top.addWidget(self.pictures_progress)
        top.addWidget(self.cancel_button)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.detail_title)
        rl.addWidget(self.detail, 3)
        rl.addWidget(self.class_plot, 1)
        split = QSplitter()
        split.addWidget(self.grid)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.epoch_row)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

    # ---- opening a run ---------------------------------------------------------------------------
    def open_run(self, run_dir: str) -> None:
        self.dossier, self.run_dir, self.layer_name = None, str(run_dir), None
        self._tiles.clear()
        self.layers.blockSignals(True)
        self.layers.clear()
        self.layers.blockSignals(False)
        self.status.setText(f"Opening the top images of {run_dir}…")
        self.progress.setVisible(True)
        self._clear_channel(NO_CHANNEL)
        self.grid.show_rgb(None)

        def job(ctx):
            from core.dossier.run_dossier import open_run_dossier, run_checkpoint
            from core.featurevis.epochs import load_epoch, saved_epochs
            from core.featurevis.store import StoreError

            dossier = open_run_dossier(run_dir, progress=ctx)
            epochs, epoch_layer = saved_epochs(run_dir), None
            try:
                epoch_layer = load_epoch(run_dir, epochs[-1]).layer if epochs else None
            except (StoreError, AttributeError):  # a damaged (or vanished) file: no slider
                epochs = []
            return ("run", dossier, str(run_checkpoint(run_dir)), epochs, epoch_layer)
        self._grid_task.cancel()
        self._channel_task.cancel()
        self._open_task.submit(job)

    def set_mode(self, mode: str) -> None:
        """"real", "synthesised" or "both"."""
        if mode == self.mode:
            return
        self.mode = mode
        button = self.mode_button[MODE_TITLES[mode]]
        if not button.isChecked():
            button.setChecked(True)
        self._update_epoch_row()
        self._request_pictures()
        self._draw()

    def show_layer(self, name: str) -> None:
        if self.dossier is None or name not in self.dossier.result.layers:
            return
        self.layer_name = name
        self._update_epoch_row()
        self._request_pictures()
        self._draw()

    def _layer(self):
        return self.dossier.result.layers[self.layer_name]

    def _is_classes(self, layer) -> bool:
        return layer.ranked_by == "log_probability"  # the output layer: its units are the classes

    def _labels(self, layer) -> list[str]:
        classes = self.dossier.result.classes
        if self._is_classes(layer):
            return [classes[c] if c < len(classes) else str(c) for c in range(layer.channels)]
        return [str(c) for c in range(layer.channels)]

    def _request_pictures(self) -> None:
        if self.mode == "real" or self.dossier is None or self.layer_name is None:
            return
        layer = self._layer()
        self.pictures.request(self.layer_name, layer.channels, self._is_classes(layer))

    def _draw(self) -> None:
        """The grid of the layer shown in the current mode, drawn off the GUI thread (the real crops are cut
        once per layer; pictures still being made leave their place empty)."""
        if self.dossier is None or self.layer_name is None:
            return
        name, dossier, mode = self.layer_name, self.dossier, self.mode
        layer = self._layer()
        vis = None if mode == "real" else self.pictures.pictures(name)
        tiles = self._tiles.setdefault(name, [None] * layer.channels)
        labels = self._labels(layer)
        self._describe(layer, vis)

        def job(ctx):
            from core.dossier.render import channel_tile
            from core.featurevis.grid import comparison_grid, geometry

            geo = geometry(layer.channels, dossier.result.k, mode)
            pictures = None if vis is None else {p.unit: p for p in vis.pictures}
            units = list(range(layer.channels))
            if mode != "synthesised":
                for c in range(layer.channels):
                    if tiles[c] is None:
                        ctx.check_cancelled()
                        tiles[c] = channel_tile(layer, c, dossier.image_of)
                    if c + 1 == min(FIRST_TILES, layer.channels) and c + 1 < layer.channels:
                        ctx.deliver(("grid", name, mode, comparison_grid(geo, labels, tiles.__getitem__, pictures,
                                                                         units), geo, vis, False))
                    ctx.update(c + 1, layer.channels, "cutting crops")
            return ("grid", name, mode, comparison_grid(geo, labels, tiles.__getitem__, pictures, units), geo, vis,
                    True)
        self._channel_task.cancel()
        self._clear_channel(NO_CHANNEL)
        self._grid_task.submit(job)

    def _describe(self, layer, vis) -> None:
        r = self.dossier.result
        noun = "classes" if self._is_classes(layer) else "channels" if layer.kind == "conv" else "units"
        text = f"{self.layer_name}: {layer.channels} {noun}, the top {r.k} of {r.images} images each"
        if self.mode != "real":
            if self.pictures.is_epoch_layer(self.layer_name):
                text += "; pictures kept during training (the slider picks the epoch)"
            elif vis is None:
                text += "; making the pictures (they are kept for this checkpoint)…"
            elif len(vis.pictures) < layer.channels:
                text += f"; {len(vis.pictures)} of {layer.channels} pictures so far"
            else:
                cached = " (from the cache)" if vis.cached_units and len(vis.cached_units) == len(vis.pictures) else ""
                text += f"; pictures made for {self._checkpoint_name()}{cached}"
            text += (". Under each picture its check: r = match with its weights (first layer), p = the model's "
                     "probability for the class, x = activation over the strongest real image's; amber: check "
                     "not passed")
        self.status.setText(text + ". Click one.")

    def _checkpoint_name(self) -> str:
        from pathlib import Path

        return Path(self.pictures.checkpoint).name if self.pictures.checkpoint else "the checkpoint"

    # ---- the epoch slider ------------------------------------------------------------------------
    def _update_epoch_row(self) -> None:
        self.epoch_row.setVisible(self.mode != "real" and self.pictures.is_epoch_layer(self.layer_name))

    def _epoch_moved(self, index: int) -> None:
        epochs = self.pictures.epochs
        if not epochs or not 0 <= index < len(epochs):
            return
        epoch = epochs[index]
        self.epoch_label.setText(f"{epoch} of {epochs[-1]}" + (" (the starting weights)" if epoch == 0 else ""))
        if self.pictures.epoch != epoch:
            self.pictures.show_epoch(epoch)

    # ---- a channel's detail ------------------------------------------------------------------------
    def show_channel(self, channel: int) -> None:
        if self.dossier is None or self.layer_name is None:
            return
        dossier, name = self.dossier, self.layer_name
        layer = dossier.result.layers[name]
        self.channel = channel
        picture = None
        if self.shown_pictures is not None:
            picture = next((p for p in self.shown_pictures.pictures if p.unit == channel), None)

        def job(ctx):
            from core.dossier.run_dossier import channel_map
            from core.inspect.saliency import overlay

            from core.featurevis.grid import picture_tile

            tiles = []
            for rank, index in enumerate(layer.indices[channel]):
                ctx.check_cancelled()
                if index < 0:
                    continue
                img = dossier.image_of(int(index))
                heat = channel_map(dossier.model, dossier.input_of(int(index)), name, channel)
                tiles.append(overlay(img, heat, alpha=0.45))
            if picture is not None:  # first: the part of the picture the unit looks at, as in the grid
                size = tiles[0].shape[0] if tiles else picture.image.shape[0]
                tiles.insert(0, picture_tile(picture, size))
            return ("channel", name, channel, _row_mosaic(tiles), picture)
        self._channel_task.submit(job, priority=1)  # the clicked channel jumps the queue

    def _clear_channel(self, hint: str) -> None:
        """No channel shown (a new run, a new layer): the detail goes, the plot says what to click."""
        self.channel = None
        self.detail.setVisible(False)
        self.detail.show_rgb(None)
        self.detail_title.setText("")
        self.class_plot.clear()
        self.class_hint.show(hint)

    # ---- results ---------------------------------------------------------------------------------
    def _on_result(self, result) -> None:
        kind = result[0]
        if kind == "run":
            _, self.dossier, checkpoint, epochs, epoch_layer = result
            self.pictures.open_run(self.run_dir, checkpoint, epochs, epoch_layer)
            self.epoch_slider.blockSignals(True)
            self.epoch_slider.setRange(0, max(0, len(epochs) - 1))
            self.epoch_slider.setValue(max(0, len(epochs) - 1))
            self.epoch_slider.blockSignals(False)
            self._epoch_moved(self.epoch_slider.value())
            self.progress.setVisible(False)
            r = self.dossier.result
            note = " (computed now from the run's checkpoint)" if self.dossier.computed else ""
            if self.dossier.note:  # its file was not read, or the result not saved: said, never hidden
                note += f"; {self.dossier.note}"
            skipped = f"; not hooked: {', '.join(r.skipped)}" if r.skipped else ""
            self.message.emit(f"top images: {len(r.layers)} layers over {r.images} images{note}{skipped}")
            self.layers.addItems(list(r.layers))  # selects the first layer -> show_layer
        elif kind == "grid" and result[1] == self.layer_name and result[2] == self.mode:
            _, name, mode, grid, self.geometry, self.shown_pictures, whole = result
            self.grid.show_rgb(grid)
            if whole:
                self.drawn = (name, mode, self.shown_pictures)
                self.progress.setVisible(False)
                self.layerShown.emit(name)
                self.gridShown.emit(name, mode)
        elif kind == "channel" and result[1] == self.layer_name:
            self._show_channel_result(result[1], result[2], result[3], result[4])

    def _on_pictures(self, layer: str) -> None:
        if self.mode != "real" and (layer == self.layer_name or self.pictures.is_epoch_layer(self.layer_name)):
            self._draw()

    def _on_pictures_progress(self, done: int, total: int, _text: str) -> None:
        self.pictures_progress.setRange(0, max(total, 1))
        self.pictures_progress.setValue(done)

    def _on_pictures_running(self, running: bool) -> None:
        self.pictures_progress.setVisible(running)
        self.cancel_button.setVisible(running)
        if not running and self.dossier is not None and self.layer_name is not None:
            self._describe(self._layer(), self.pictures.pictures(self.layer_name) if self.mode != "real" else None)

    def _on_pictures_failed(self, message: str) -> None:
        self.status.setText(f"Could not make the pictures: {message}")
        self.message.emit(f"synthesised pictures: {message}")

    def _show_channel_result(self, name: str, channel: int, mosaic: np.ndarray, picture) -> None:
        layer = self.dossier.result.layers[name]
        self.detail.setVisible(True)
        self.detail.show_rgb(mosaic)
        values = ", ".join(f"{v:.2f}" for v in layer.values[channel] if np.isfinite(v))
        label = self._labels(layer)[channel]
        text = f"{name} {'class ' if self._is_classes(layer) else 'channel '}{label}: top activations {values}"
        if picture is not None:
            from core.featurevis.grid import sanity_sentence

            text += f". Its synthesised picture (first, the part it looks at): {sanity_sentence(picture)}"
        self.detail_title.setText(text)
        self.class_plot.clear()
        if layer.class_mean is not None:
            classes = self.dossier.result.classes
            means = layer.class_mean[channel]
            self.class_plot.addItem(pg.BarGraphItem(x=np.arange(len(means)), height=means, width=0.7, brush="#2f80ed"))
            self.class_plot.getAxis("bottom").setTicks([list(enumerate(classes))])
            self.class_plot.setLabel("left", "mean log-probability" if layer.ranked_by == "log_probability"
                                     else "mean activation")
            self.class_hint.hide()
        else:
            self.class_hint.show("No per-class means were kept for this layer")
        self.channelShown.emit(name, channel)

    def _grid_clicked(self, x: float, y: float) -> None:
        if self.dossier is None or self.layer_name is None or self.geometry is None:
            return
        channel = self.geometry.index_at(x, y)
        if channel is not None:
            self.show_channel(channel)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setVisible(done < total)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.status.setText(f"Could not show the top images: {message}")
        self.class_hint.show("No top images for this run")
        self.message.emit(f"top images: {message}")

    def shutdown(self) -> None:
        self.pictures.shutdown()
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
