""""Accept the confident ones": a grid of the pool photos the model is sure and familiar about, each with its
guess, ticked; what stays ticked is accepted in bulk (logged as "accept", not "label")."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout

from gui.labelling.images import load_qimage

PROBABILITY = 0.9
FAMILIARITY = 0.5


def confident_rows(scores, probability: float = PROBABILITY, familiarity: float = FAMILIARITY) -> list[int]:
    """Rows the model is at least `probability` sure about and (when known) familiar with, surest first."""
    best = scores.probabilities.max(axis=1)
    rows = [i for i in range(len(best)) if best[i] >= probability
            and (scores.familiarity is None or scores.familiarity[i] >= familiarity)]
    return sorted(rows, key=lambda i: -best[i])


class ConfidentGrid(QDialog):
    def __init__(self, scores, rows: list[int], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Accept the confident ones")
        self.resize(760, 560)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(rows)} photos the model is at least {PROBABILITY:.0%} sure about and familiar "
                                "with. Untick any that are wrong, then accept the rest."))
        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(96, 96))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        for row in rows:
            label = scores.classes[int(scores.probabilities[row].argmax())]
            item = QListWidgetItem(QIcon(QPixmap.fromImage(load_qimage(scores.paths[row], 96))),
                                   f"{label} {scores.probabilities[row].max():.0%}")
            item.setData(Qt.ItemDataRole.UserRole, (str(scores.paths[row]), label))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.grid.addItem(item)
        layout.addWidget(self.grid)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Accept the ticked ones", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def ticked(self) -> list[tuple[str, str]]:
        return [self.grid.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.grid.count())
                if self.grid.item(i).checkState() == Qt.CheckState.Checked]
