"""Every setting of the selected runs side by side (one column a run), rows that differ highlighted. The run
columns share the table's width (three runs fit without scrolling; a long value is elided, whole in its
tooltip), and a setting left to the engine reads "auto", as in the form, not JSON's null."""
from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QCheckBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

DIFFERENT = QColor(255, 236, 170)
MISSING = "—"
AUTO = "auto"
NONE = "none"
AUTO_WHEN_NULL = ("image_size", "device", "workers")  # null: the engine picks (core/catalog.py)


def shown_value(key: str, value) -> str:
    """A setting as the form would say it: null is "auto" where the engine picks (every data setting: image
    size, mean, std, channels from the dataset), "none" elsewhere (no weights file, no resume)."""
    if value is None:
        auto = key.startswith("data.") or key.rsplit(".", 1)[-1] in AUTO_WHEN_NULL
        return AUTO if auto else NONE
    return value if isinstance(value, str) else json.dumps(value, default=str)


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """{"train": {"lr": 0.1}} -> {"train.lr": "0.1"}; lists and odd values as compact JSON text."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = shown_value(name, value)
    return out


class SettingsComparison(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.only_differences = QCheckBox("Only settings that differ")
        self.only_differences.toggled.connect(lambda _: self._fill())
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # "…" in a long value, not a scroll bar
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setMinimumSectionSize(60)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
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
        for col, (name, _) in enumerate(self._runs):
            header = QTableWidgetItem(name)
            header.setToolTip(name)
            self.table.setHorizontalHeaderItem(col, header)
        self.table.setVerticalHeaderLabels(keys)
        brush = QBrush(DIFFERENT)
        for row, key in enumerate(keys):
            for col, (_, flat) in enumerate(self._runs):
                item = QTableWidgetItem(flat.get(key, MISSING))
                item.setToolTip(item.text())
                if key in differing:
                    item.setBackground(brush)
                self.table.setItem(row, col, item)
