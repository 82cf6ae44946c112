"""Small pyqtgraph building blocks: an image pane (one ViewBox, square pixels, y down, no axes) and an
ImageItem that reports where it was clicked, in image pixels (x = column, y = row)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

_COLOUR_MAPS: dict[str, pg.ColorMap] = {}


def colour_map(name: str) -> pg.ColorMap:
    """pyqtgraph's own maps (viridis, turbo, inferno...), else matplotlib's (jet, the one core's overlays use)."""
    if name not in _COLOUR_MAPS:
        try:
            _COLOUR_MAPS[name] = pg.colormap.get(name)
        except FileNotFoundError:
            _COLOUR_MAPS[name] = pg.colormap.get(name, source="matplotlib")
    return _COLOUR_MAPS[name]


def show_bar(bar: pg.ColorBarItem, shown: bool) -> None:
    """Show or blank a colour bar without hiding it: a bar hidden and shown again lays its label out over
    itself (pyqtgraph 0.14), so it stays in the layout, transparent."""
    bar.setOpacity(1.0 if shown else 0.0)


def fading_lut(name: str) -> np.ndarray:
    """[256, 4] uint8 RGBA: the colour map with alpha rising from 0 (cold) to opaque (hot)."""
    lut = colour_map(name).getLookupTable(0.0, 1.0, 256, alpha=True).astype(np.uint8)
    lut[:, 3] = (np.linspace(0.0, 1.0, 256) ** 0.7 * 255).astype(np.uint8)
    return lut


class ClickableImage(pg.ImageItem):
    clicked = Signal(float, float)

    def __init__(self, **kwargs):
        super().__init__(axisOrder="row-major", **kwargs)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and self.image is not None:
            pos = ev.pos()
            self.clicked.emit(float(pos.x()), float(pos.y()))
            ev.accept()
        else:
            super().mouseClickEvent(ev)


class ImagePane(pg.GraphicsLayoutWidget):
    """A widget showing stacked ImageItems in one view; `base` is the bottom one."""

    def __init__(self, parent=None, min_size: int = 160):
        super().__init__(parent)
        self.setMinimumSize(min_size, min_size)
        self.ci.setContentsMargins(0, 0, 0, 0)
        self.view: pg.ViewBox = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.01)
        self.base = ClickableImage()
        self.view.addItem(self.base)

    def add_colour_bar(self, cmap: str, label: str = "", values: tuple[float, float] = (0.0, 1.0),
                       ticks: dict[float, str] | None = None) -> pg.ColorBarItem:
        """A colour bar beside the image that says what the colours mean (not linked to an item: a fading
        heat map keeps its own look-up table). `ticks` names a few values (e.g. {0: "low", 1: "high"})."""
        bar = pg.ColorBarItem(values=values, colorMap=colour_map(cmap), label=label or None, width=12,
                              interactive=False, colorMapMenu=False)
        axis = bar.axis  # the one with values (right of a vertical bar)
        axis.setStyle(tickLength=3)
        bar.layout.setContentsMargins(0, 8, 0, 8)  # room for the end labels
        if label:
            bar.getAxis("left").setWidth(20)  # the label's own column, never over the bar
        if ticks:
            axis.setTicks([list(ticks.items())])
        self.addItem(bar, row=0, col=1)
        return bar

    def add_layer(self, opacity: float = 1.0) -> ClickableImage:
        item = ClickableImage()
        item.setOpacity(opacity)
        item.setZValue(len(self.view.addedItems))
        self.view.addItem(item)
        return item

    def show_rgb(self, rgb: np.ndarray | None) -> None:
        if rgb is None:
            self.base.clear()
            return
        self.base.setImage(np.ascontiguousarray(rgb), autoLevels=False, levels=(0, 255))
        self.view.autoRange(padding=0.01)

    def show_scalar(self, image: np.ndarray | None, cmap: str = "viridis", item: pg.ImageItem | None = None,
                    fade_low: bool = False) -> None:
        """A 2-D float image in [0, 1] through a colour map. `fade_low` makes low values transparent, so a
        heat map over a photo hides nothing where it is cold and the photo stays readable."""
        item = item or self.base
        if image is None:
            item.clear()
            return
        item.setImage(np.ascontiguousarray(image, dtype=np.float32), autoLevels=False, levels=(0.0, 1.0))
        if fade_low:
            item.setLookupTable(fading_lut(cmap))
        else:
            item.setColorMap(colour_map(cmap))
        if item is self.base:
            self.view.autoRange(padding=0.01)
