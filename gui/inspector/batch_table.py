"""The table of a multi-image drop: thumbnail, file, top-1 label, probability (or the error in red).
Rows are filled as the worker delivers them; selecting one asks the panel to show its detail."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from gui.inspector.results import RowResult

THUMB = 32
COLUMNS = ("", "File", "Top-1", "Probability")


def pixmap_from_array(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # copy: the QImage must not outlive the numpy buffer


class BatchTable(QTableWidget):
    rowChosen = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(THUMB, THUMB))
        self.verticalHeader().setDefaultSectionSize(THUMB + 4)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # long error texts elide, never scroll
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setWordWrap(False)
        self.setColumnWidth(0, THUMB + 8)
        self._results: dict[int, RowResult] = {}
        self.itemSelectionChanged.connect(self._on_selection)

    def reset_rows(self, labels: list[str]) -> None:
        """New drop: one row a file, all pending."""
        self.blockSignals(True)
        self.clearContents()
        self.setRowCount(len(labels))
        self._results = {}
        for row, label in enumerate(labels):
            self.setItem(row, 0, QTableWidgetItem())
            self.setItem(row, 1, QTableWidgetItem(label))
            self.setItem(row, 2, QTableWidgetItem("…"))
            self.setItem(row, 3, QTableWidgetItem(""))
        self.blockSignals(False)

    def set_result(self, result: RowResult) -> None:
        row = result.row
        if row >= self.rowCount():
            return
        self._results[row] = result
        self.item(row, 1).setToolTip(result.where)
        if result.thumbnail is not None:
            self.item(row, 0).setIcon(QIcon(pixmap_from_array(result.thumbnail)))
        if result.error is not None:
            item = self.item(row, 2)
            item.setText(f"cannot read: {result.error}")
            item.setToolTip(f"{result.where}: {result.error}")
            item.setForeground(QBrush(QColor("#b00020")))
            self.item(row, 3).setText("")
        elif result.top:
            label, prob = result.top[0]
            self.item(row, 2).setText(label)
            self.item(row, 3).setText(f"{prob * 100:.1f}%")

    def results(self) -> list[RowResult]:
        """The results delivered so far, in row order."""
        return [self._results[r] for r in sorted(self._results)]

    def result(self, row: int) -> RowResult | None:
        return self._results.get(row)

    def row_texts(self, row: int) -> tuple[str, str, str]:
        return tuple(self.item(row, c).text() for c in (1, 2, 3))

    def _on_selection(self) -> None:
        rows = {index.row() for index in self.selectedIndexes()}
        if len(rows) == 1:
            self.rowChosen.emit(rows.pop())
