"""A simple picture of the network: boxes in a row, input -> hidden -> output, drawn with QPainter.

Box height grows with the log of the layer's parameter count, so a huge first Linear layer of an MLP looks
huge next to its small output layer; frozen blocks are drawn grey.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui.model_view.summary import Block, fmt_count

INPUT_COLOUR = QColor("#6aa9d8")
HIDDEN_COLOUR = QColor("#8cc084")
OUTPUT_COLOUR = QColor("#e0a458")
FROZEN_COLOUR = QColor("#b8b8b8")


class NetworkDiagram(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._blocks: list[Block] = []
        self._message = "Building the model…"
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMinimumHeight(130)

    def sizeHint(self) -> QSize:
        return QSize(600, 140)

    def set_blocks(self, blocks: list[Block]) -> None:
        self._blocks, self._message = list(blocks), ""
        self.update()

    def set_message(self, text: str) -> None:
        self._blocks, self._message = [], text
        self.update()

    def blocks(self) -> list[Block]:
        return list(self._blocks)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        text_colour = self.palette().windowText().color()
        if not self._blocks:
            p.setPen(text_colour)
            p.drawText(self.rect(), Qt.AlignCenter, self._message)
            return
        n = len(self._blocks)
        margin, gap = 8.0, 14.0
        width = max(30.0, (self.width() - 2 * margin - gap * (n - 1)) / n)
        top, bottom = 8.0, self.height() - 34.0
        full = bottom - top
        biggest = max((b.params for b in self._blocks), default=1) or 1
        small_font = QFont(self.font())
        small_font.setPointSizeF(max(6.5, self.font().pointSizeF() * (0.85 if n > 10 else 0.95)))
        p.setFont(small_font)
        centres = []
        for i, block in enumerate(self._blocks):
            x = margin + i * (width + gap)
            frac = 0.35 if block.params == 0 else 0.35 + 0.65 * math.log1p(block.params) / math.log1p(biggest)
            h = full * frac
            rect = QRectF(x, top + (full - h) / 2, width, h)
            colour = (INPUT_COLOUR if i == 0 else OUTPUT_COLOUR if i == n - 1 else HIDDEN_COLOUR)
            if not block.trainable:
                colour = FROZEN_COLOUR
            p.setPen(QPen(colour.darker(140), 1.2))
            p.setBrush(colour)
            p.drawRoundedRect(rect, 5, 5)
            p.setPen(QColor("#1b1b1b"))
            p.drawText(rect.adjusted(2, 2, -2, -2), Qt.AlignCenter | Qt.TextWordWrap, block.title)
            p.setPen(text_colour)
            label = block.detail + (f"\n{fmt_count(block.params)} weights" if block.params else "")
            p.drawText(QRectF(x - gap / 2, bottom + 2, width + gap, 32), Qt.AlignHCenter | Qt.AlignTop, label)
            centres.append((rect.left(), rect.right(), rect.center().y()))
        p.setPen(QPen(text_colour, 1.4))
        mid = top + full / 2
        for (_, right, _), (left, _, _) in zip(centres, centres[1:]):
            p.drawLine(int(right + 1), int(mid), int(left - 2), int(mid))
            p.drawLine(int(left - 2), int(mid), int(left - 6), int(mid - 3))
            p.drawLine(int(left - 2), int(mid), int(left - 6), int(mid + 3))
