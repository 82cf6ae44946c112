"""The table of a multi-image drop: thumbnail, file, top-1 label, probability (or the error in red) and the
familiarity score (when the checkpoint has a bank; below the threshold in red). Rows are filled as the worker
delivers them; selecting one asks the panel to show its detail. Sorting by a column (click its header) moves
rows on screen only: rows are named everywhere by their place in the drop (`row` below)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from gui.inspector.results import RowResult

THUMB = 32
COLUMNS = ("", "File", "Top-1", "Probability", "Familiarity")
DROP_ROW = Qt.ItemDataRole.UserRole  # on the File item: the row's place in the drop
SORT_KEY = Qt.ItemDataRole.UserRole + 1  # a number to sort by (probability, familiarity); None sorts first


class _SortItem(QTableWidgetItem):
    """Sorts by its number (SORT_KEY) rather than its text, so 9.5% < 10.0% and unknown familiarity first."""

    def __lt__(self, other) -> bool:
        a, b = self.data(SORT_KEY), other.data(SORT_KEY)
        if a is None or b is None:
            return a is None and b is not None
        return float(a) < float(b)


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
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.ResizeToContents)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setWordWrap(False)
        self.setColumnWidth(0, THUMB + 8)
        self._results: dict[int, RowResult] = {}
        self.itemSelectionChanged.connect(self._on_selection)

    def reset_rows(self, labels: list[str]) -> None:
        """New drop: one row a file, all pending."""
        self.blockSignals(True)
        self.setSortingEnabled(False)
        self.clearContents()
        self.setRowCount(len(labels))
        self._results = {}
        for row, label in enumerate(labels):
            self.setItem(row, 0, QTableWidgetItem())
            name = QTableWidgetItem(label)
            name.setData(DROP_ROW, row)
            self.setItem(row, 1, name)
            self.setItem(row, 2, QTableWidgetItem("…"))
            self.setItem(row, 3, _SortItem(""))
            self.setItem(row, 4, _SortItem(""))
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        self.blockSignals(False)

    def visual_row(self, row: int) -> int:
        """Where the drop's `row` is on screen now (-1: no such row)."""
        for visual in range(self.rowCount()):
            item = self.item(visual, 1)
            if item is not None and item.data(DROP_ROW) == row:
                return visual
        return -1

    def select(self, row: int) -> None:
        """Select the drop's `row` wherever sorting put it."""
        visual = self.visual_row(row)
        if visual >= 0:
            self.selectRow(visual)

    def set_result(self, result: RowResult) -> None:
        row = self.visual_row(result.row)
        if row < 0:
            return
        self._results[result.row] = result
        sorting = self.isSortingEnabled()
        self.setSortingEnabled(False)  # the row must not move while its cells are filled
        try:
            self._fill(row, result)
        finally:
            self.setSortingEnabled(sorting)

    def _fill(self, row: int, result: RowResult) -> None:
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
            self.item(row, 3).setData(SORT_KEY, float(prob))
        familiarity = self.item(row, 4)
        if result.familiarity is not None:
            score, familiar = result.familiarity
            familiarity.setText(f"{score:.2f}" if familiar else f"{score:.2f} unfamiliar")
            familiarity.setData(SORT_KEY, float(score))
            if not familiar:
                familiarity.setForeground(QBrush(QColor("#b00020")))
        elif result.error is None:
            familiarity.setText("unknown")
            familiarity.setToolTip("The checkpoint has no familiarity bank (Compute familiarity in the detail)")

    def results(self) -> list[RowResult]:
        """The results delivered so far, in row order."""
        return [self._results[r] for r in sorted(self._results)]

    def result(self, row: int) -> RowResult | None:
        return self._results.get(row)

    def row_texts(self, row: int) -> tuple[str, str, str]:
        """File, top-1 and probability of the drop's `row`."""
        visual = self.visual_row(row)
        return tuple(self.item(visual, c).text() for c in (1, 2, 3))

    def familiarity_text(self, row: int) -> str:
        return self.item(self.visual_row(row), 4).text()

    def _on_selection(self) -> None:
        rows = {index.row() for index in self.selectedIndexes()}
        if len(rows) == 1:
            self.rowChosen.emit(int(self.item(rows.pop(), 1).data(DROP_ROW)))
