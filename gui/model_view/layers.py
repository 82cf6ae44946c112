"""The layer table: one row per layer (name, type, output shape, parameters, trainable / frozen)."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from gui.model_view.summary import fmt_shape

COLUMNS = ("Layer", "Type", "Output shape", "Parameters", "Trains")
FROZEN_COLOUR = QColor(140, 140, 140)


class LayerTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list = []

    def set_rows(self, rows: list) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole:
            return COLUMNS[section] if orientation == Qt.Horizontal else str(section + 1)
        return None

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row, col = self._rows[index.row()], index.column()
        if role == Qt.DisplayRole:
            if col == 0:
                return row.name
            if col == 1:
                return row.type
            if col == 2:
                return fmt_shape(row.output_shape)
            if col == 3:
                return f"{row.params:,}" if row.params else "–"
            if col == 4:
                return "" if not row.params else ("trainable" if row.trainable else "frozen")
        if role == Qt.TextAlignmentRole and col == 3:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ForegroundRole and row.params and not row.trainable:
            return QBrush(FROZEN_COLOUR)
        if role == Qt.ToolTipRole and col == 4 and row.params and not row.trainable:
            return "Frozen: these weights keep their pretrained values during training"
        return None
