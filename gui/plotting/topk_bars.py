"""The top-k prediction as horizontal bars: label, bar, percentage. Painted (a handful of rows does not
need a plot), so labels never overlap and the widget stays readable at any size."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

ROW_HEIGHT = 24


class TopKBars(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._entries: list[tuple[str, float]] = []
        self._placeholder = "No prediction yet"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setMinimumWidth(220)

    def set_entries(self, entries: list[tuple[str, float]]) -> None:
        self._entries = [(str(label), float(prob)) for label, prob in entries]
        self.updateGeometry()
        self.update()

    def entries(self) -> list[tuple[str, float]]:
        return list(self._entries)

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, max(1, len(self._entries)) * ROW_HEIGHT + 8)

    def minimumSizeHint(self) -> QSize:
        return QSize(220, max(1, len(self._entries)) * ROW_HEIGHT + 8)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text_colour = pal.color(QPalette.ColorRole.WindowText)
        if not self._entries:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        metrics = p.fontMetrics()
        label_w = min(self.width() // 2, max(metrics.horizontalAdvance(l) for l, _ in self._entries) + 12)
        value_w = metrics.horizontalAdvance("100.0%") + 8
        bar_w = max(10, self.width() - label_w - value_w - 8)
        for i, (label, prob) in enumerate(self._entries):
            y = 4 + i * ROW_HEIGHT
            p.setPen(text_colour)
            shown = metrics.elidedText(label, Qt.TextElideMode.ElideRight, label_w - 8)
            p.drawText(QRectF(0, y, label_w - 6, ROW_HEIGHT - 4),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, shown)
            track = QRectF(label_w, y + 3, bar_w, ROW_HEIGHT - 10)
            p.fillRect(track, pal.color(QPalette.ColorRole.AlternateBase))
            colour = QColor("#2f80ed") if i == 0 else QColor("#8fb3e8")
            p.fillRect(QRectF(track.x(), track.y(), bar_w * max(0.0, min(1.0, prob)), track.height()), colour)
            p.drawText(QRectF(label_w + bar_w + 6, y, value_w, ROW_HEIGHT - 4),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{prob * 100:.1f}%")
        p.end()
