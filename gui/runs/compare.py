"""Every setting of the selected runs side by side (one column a run), rows that differ highlighted."""
from __future__ import annotations

import json

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QCheckBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

DIFFERENT = QColor(255, 236, 170)
MISSING = "—"


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """{"train": {"lr": 0.1}} -> {"train.lr": "0.1"}; lists and odd values as compact JSON text."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value if isinstance(value, str) else json.dumps(value, default=str)
    return out


class SettingsComparison(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.only_differences = QCheckBox("Only settings that differ")
        self.only_differences.toggled.connect(lambda _: self._fill())
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.only_differences)
        layout.addWidget(self.table, 1)
        self._runs: list[tuple[str, dict[str, str]]] = []

    def set_runs(self, runs: list[tuple[str, dict]]) -> None:
        """(name, config) of each selected run."""
        self._runs = [(name, flatten(config)) for name, config in runs]
        self._fill()

    def differing_keys(self) -> list[str]:
        keys = sorted({k for _, flat in self._runs for k in flat})
        return [k for k in keys if len({flat.get(k, MISSING) for _, flat in self._runs}) > 1]

    def _fill(self) -> None:
        keys = sorted({k for _, flat in self._runs for k in flat})
        differing = set(self.differing_keys())
        if self.only_differences.isChecked():
            keys = [k for k in keys if k in differing]
        self.table.clear()
        self.table.setColumnCount(len(self._runs))
        self.table.setRowCount(len(keys))
        self.table.setHorizontalHeaderLabels([name for name, _ in self._runs])
        self.table.setVerticalHeaderLabels(keys)
        brush = QBrush(DIFFERENT)
        for row, key in enumerate(keys):
            for col, (_, flat) in enumerate(self._runs):
                item = QTableWidgetItem(flat.get(key, MISSING))
                if key in differing:
                    item.setBackground(brush)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
