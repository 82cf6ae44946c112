"""Every layer for one image: the layer list (name, type, output shape); for the selected layer its
activations as ONE mosaic ImageItem (or a bar chart for a vector layer), its statistics, and the clicked
channel shown large over the input image."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QSlider,
                               QSplitter, QStackedWidget, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from gui.plotting.image_panes import ImagePane
from gui.inspector.results import is_vector_shape

SCALING_CHOICES = (("Per channel", "channel"), ("Per layer", "layer"))


def shape_text(shape) -> str:
    return " × ".join(str(int(s)) for s in shape)


def upscale_nearest(tile: np.ndarray, size: int) -> np.ndarray:
    """A [h, w] tile -> [size, size] by nearest neighbour (keeps the feature map's blocks honest)."""
    h, w = tile.shape
    rows = (np.arange(size) * h // size).clip(0, h - 1)
    cols = (np.arange(size) * w // size).clip(0, w - 1)
    return tile[rows][:, cols]


class LayerBrowser(QWidget):
    scalingChanged = Signal(str)  # "channel" or "layer": the panel re-runs the inspection

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._inspection = None
        self._classes: list[str] = []
        self._current: int | None = None
        self.selected_channel: int | None = None

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(("Layer", "Type", "Output"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_layer_selected)

        self.scaling = QComboBox()
        for title, value in SCALING_CHOICES:
            self.scaling.addItem(title, value)
        self.scaling.setToolTip("Per channel: each feature map stretched to its own range (see every pattern).\n"
                                "Per layer: one range for the layer (see which channels are strong).")
        self.scaling.currentIndexChanged.connect(lambda _i: self.scalingChanged.emit(self.scaling_mode()))
        self.title = QLabel("Drop an image to see what every layer computes")
        self.title.setWordWrap(True)
        self.stats = QLabel("")
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.mosaic = ImagePane(min_size=240)
        self.mosaic.base.clicked.connect(self._on_mosaic_clicked)
        self.bars = pg.PlotWidget()
        self.bars.setMinimumHeight(160)
        self.bars.setLabel("bottom", "unit")
        self.bars.setLabel("left", "activation")
        self.bars.getAxis("left").enableAutoSIPrefix(False)  # 0.004, not "4" with a "(x0.001)" clipped off
        self._bar_item: pg.BarGraphItem | None = None
        self.stack = QStackedWidget()
        self.stack.addWidget(self.mosaic)
        self.stack.addWidget(self.bars)

        self.channel_pane = ImagePane(min_size=200)
        self.channel_overlay = self.channel_pane.add_layer(opacity=0.8)
        self.channel_title = QLabel("Click a channel in the mosaic to see it over the input")
        self.channel_title.setWordWrap(True)
        self.channel_opacity = QSlider(Qt.Orientation.Horizontal)
        self.channel_opacity.setRange(0, 100)
        self.channel_opacity.setValue(80)
        self.channel_opacity.setToolTip("Opacity of the channel over the input image")
        self.channel_opacity.valueChanged.connect(lambda v: self.channel_overlay.setOpacity(v / 100))

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(QLabel("Scaling:"))
        top.addWidget(self.scaling)
        centre = QVBoxLayout()
        centre.addLayout(top)
        centre.addWidget(self.stack, 1)
        centre.addWidget(self.stats)
        centre_box = QWidget()
        centre_box.setLayout(centre)
        side = QVBoxLayout()
        side.addWidget(self.channel_title)
        side.addWidget(self.channel_pane, 1)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(QLabel("Opacity"))
        opacity_row.addWidget(self.channel_opacity)
        side.addLayout(opacity_row)
        side_box = QWidget()
        side_box.setLayout(side)

        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(centre_box)
        splitter.addWidget(side_box)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 4)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([300, 520, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # ---- data in -------------------------------------------------------------------------------------
    def scaling_mode(self) -> str:
        return self.scaling.currentData()

    def set_inspection(self, inspection, classes: list[str] | None = None) -> None:
        """Show a new inspection; the same layer (by name) stays selected when it still exists. With
        `classes`, the output layer's bars are labelled with the class names."""
        previous = self.current_layer_name()
        self._inspection = inspection
        self._classes = list(classes or [])
        layers = inspection.layers if inspection is not None else []
        self.table.blockSignals(True)
        self.table.setRowCount(len(layers))
        for row, view in enumerate(layers):
            for col, text in enumerate((view.name, view.type, shape_text(view.shape))):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.blockSignals(False)
        names = [v.name for v in layers]
        if not layers:
            self._current = None
            self.mosaic.show_scalar(None)
            self.stats.setText("")
            return
        # Keep the layer and channel the user was looking at (a pinned probe refreshing); else the first
        # layer, where colour and edge detectors are easiest to recognise.
        if previous in names:
            self.select_layer(names.index(previous), keep_channel=self.selected_channel)
        else:
            self.select_layer(0)

    def select_layer(self, index: int, keep_channel: int | None = None) -> None:
        self.table.blockSignals(True)
        self.table.selectRow(index)
        self.table.blockSignals(False)
        self._show_layer(index, keep_channel)

    def current_layer_name(self) -> str | None:
        if self._inspection is None or self._current is None or self._current >= len(self._inspection.layers):
            return None
        return self._inspection.layers[self._current].name

    def current_layer(self):
        name = self.current_layer_name()
        return None if name is None else self._inspection.layers[self._current]

    # ---- display -------------------------------------------------------------------------------------
    def _on_layer_selected(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) == 1:
            self._show_layer(rows.pop())

    def _show_layer(self, index: int, keep_channel: int | None = None) -> None:
        if self._inspection is None or not 0 <= index < len(self._inspection.layers):
            return
        self._current = index
        view = self._inspection.layers[index]
        self.title.setText(f"<b>{view.name}</b> ({view.type}), output {shape_text(view.shape)}")
        self.stats.setText(stats_text(view.stats, view.shape))
        if is_vector(view):
            self._show_bars(view)
            self.stack.setCurrentWidget(self.bars)
        else:
            self.mosaic.show_scalar(view.mosaic.image, "viridis")
            self.stack.setCurrentWidget(self.mosaic)
        channels = view.mosaic.channels if view.mosaic is not None and not is_vector(view) else 0
        if keep_channel is not None and keep_channel < channels:
            self.select_channel(keep_channel)
        else:
            self.select_channel(0 if channels else None)

    def _show_bars(self, view) -> None:
        values = vector_values(view)
        if self._bar_item is not None:
            self.bars.removeItem(self._bar_item)
        brushes = ["#2f80ed" if v >= 0 else "#eb5757" for v in values]
        self._bar_item = pg.BarGraphItem(x=np.arange(len(values)), height=values, width=0.8, brushes=brushes, pen=None)
        self.bars.addItem(self._bar_item)
        axis = self.bars.getAxis("bottom")
        is_output = view is self._inspection.layers[-1] and len(values) == len(self._classes)
        if is_output and len(values) <= 30:  # the logits: name each bar after its class
            axis.setTicks([list(enumerate(self._classes))])
            axis.setLabel("class (output before softmax)")
        else:
            axis.setTicks(None)
            axis.setLabel("unit")
        self.bars.autoRange()

    def _on_mosaic_clicked(self, x: float, y: float) -> None:
        view = self.current_layer()
        if view is None or view.mosaic is None or is_vector(view):
            return
        channel = view.mosaic.channel_at(x, y)
        if channel is not None:
            self.select_channel(channel)

    def select_channel(self, channel: int | None) -> None:
        """Show one channel of the current layer large, over the input image the model saw."""
        view = self.current_layer()
        self.selected_channel = channel
        if view is None or channel is None or view.mosaic is None:
            self.channel_overlay.clear()
            self.channel_pane.show_rgb(None)
            self.channel_title.setText(
                "One number per unit here (the bars): no feature maps to lay over the input"
                if view is not None and is_vector(view) else "Click a channel in the mosaic to see it over the input")
            return
        source = self._inspection.input_image
        size = source.shape[0]
        tile = np.asarray(view.mosaic.tile(channel), dtype=np.float32)
        self.channel_pane.show_rgb(source)
        self.channel_pane.show_scalar(upscale_nearest(tile, size), "turbo", item=self.channel_overlay, fade_low=True)
        self.channel_pane.view.autoRange(padding=0.01)
        self.channel_title.setText(f"<b>{view.name}</b> channel {channel} of {view.mosaic.channels} "
                                   f"({view.mosaic.tile_h}×{view.mosaic.tile_w}) over the input")


def is_vector(view) -> bool:
    return is_vector_shape(view.shape)


def vector_values(view) -> np.ndarray:
    """A vector layer's raw values (the kept activation; else undo the strip's min..max scaling)."""
    if getattr(view, "activation", None) is not None:
        return np.asarray(view.activation, dtype=np.float32).reshape(-1)
    strip = np.asarray(view.mosaic.image, dtype=np.float32)[0]
    lo, hi = float(view.stats.get("min", 0.0)), float(view.stats.get("max", 1.0))
    return lo + strip * (hi - lo)


def stats_text(stats: dict, shape) -> str:
    unit = "channels" if len(shape) >= 2 else "units"
    return (f"mean {stats.get('mean', 0):.4g}   std {stats.get('std', 0):.4g}   "
            f"min {stats.get('min', 0):.4g}   max {stats.get('max', 0):.4g}   "
            f"zeros {stats.get('zeros_fraction', 0):.1%}   dead {unit} {stats.get('dead_fraction', 0):.1%}")
