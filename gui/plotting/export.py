"""Save a pyqtgraph plot to PNG or SVG, chosen by the file name's suffix.

PNG: pyqtgraph's ImageExporter. SVG: pyqtgraph's SVGExporter, and when it fails Qt's own QSvgGenerator
rendering the same scene rectangle: pyqtgraph 0.14's SVGExporter cannot parse the path data that Qt 6.12
writes (ValueError in correctCoordinates, pyqtgraph issue #3485, open).
"""
from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter

FILTER = "PNG image (*.png);;SVG drawing (*.svg)"


def _qt_svg(item, path: Path) -> None:
    from PySide6.QtSvg import QSvgGenerator

    source = item.sceneBoundingRect()
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(source.size().toSize())
    generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
    generator.setTitle(path.stem)
    painter = QPainter(generator)
    try:
        item.scene().render(painter, QRectF(0, 0, source.width(), source.height()), source)
    finally:
        painter.end()


def export_plot(item: pg.PlotItem | pg.GraphicsLayout, path: str | Path, width: int = 1200) -> Path:
    """Write `item` (one plot, or a layout of plots) to `path` (.png or .svg; anything else becomes .png).
    Raises OSError when the file cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        path = path.with_suffix(".png")
    if path.suffix.lower() == ".svg":
        try:
            pyqtgraph.exporters.SVGExporter(item).export(str(path))
        except ValueError:
            _qt_svg(item, path)
    else:
        exporter = pyqtgraph.exporters.ImageExporter(item)
        exporter.parameters()["width"] = width
        if not exporter.export(str(path)) and not path.exists():
            raise OSError(f"{path}: could not be written")
    if not path.exists():
        raise OSError(f"{path}: could not be written")
    return path
