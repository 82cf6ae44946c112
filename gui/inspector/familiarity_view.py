"""Beside the top-k bars: how familiar the image is (a badge) and the five nearest training images.

"Unfamiliar: unlike the training images" when the score is below the threshold at which 95 % of the validation
images count as familiar; "familiarity unknown" with a button to compute the bank when the checkpoint has
none. Clicking a neighbour that is a file asks for it to be inspected (neighbourChosen).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from core.runs.layout import BANK_SUFFIX, BEST
from gui.inspector.batch_table import pixmap_from_array
from gui.inspector.results import FamiliarityShown

NEIGHBOUR_PX = 56
_STYLES = {
    "familiar": "background: #e3f9e5; color: #0e5814; border: 1px solid #57ae5b;",
    "unfamiliar": "background: #ffe3e3; color: #8a041a; border: 1px solid #e12d39;",
    "unknown": "background: #f0f4f8; color: #334e68; border: 1px solid #9fb3c8;",
}


def badge_text(shown: FamiliarityShown) -> tuple[str, str]:
    """(style key, text) of the badge."""
    f = shown.familiarity
    if f is None:
        return "unknown", f"Familiarity unknown: {shown.note}" if shown.note else "Familiarity unknown"
    share = "95 % of validation images score above" if shown.calibrated_on == "val" else \
        "95 % of training images score above"
    if f.familiar:
        return "familiar", f"Familiar: like the training images: score {f.score:.2f} ({share} {f.threshold:.2f})"
    return "unfamiliar", f"Unfamiliar: unlike the training images: score {f.score:.2f}, {share} {f.threshold:.2f}"


class FamiliarityView(QWidget):
    neighbourChosen = Signal(str)  # the path of a nearest training image to inspect
    computeRequested = Signal()  # "Compute familiarity": build the bank beside the checkpoint

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.badge = QLabel("")
        self.badge.setObjectName("familiarityBadge")
        self.badge.setWordWrap(True)
        self.badge.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compute_button = QPushButton("Compute familiarity")
        self.compute_button.setToolTip("One pass over the checkpoint's training and validation images; the bank "
                                       f"is stored beside the checkpoint ({BEST} -> {Path(BEST).stem}{BANK_SUFFIX})")
        self.compute_button.clicked.connect(self.computeRequested)
        self.neighbours_title = QLabel("Nearest training images")
        self.neighbour_buttons: list[QToolButton] = []
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self._row = row
        row.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.badge, 1)
        top.addWidget(self.compute_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.neighbours_title)
        layout.addLayout(row)
        self.state = ""
        self.show_familiarity(None)

    def show_familiarity(self, shown: FamiliarityShown | None) -> None:
        """None: nothing inspected (the view hides)."""
        self.setVisible(shown is not None)
        for button in self.neighbour_buttons:
            self._row.removeWidget(button)
            button.deleteLater()
        self.neighbour_buttons = []
        if shown is None:
            self.state = ""
            return
        self.state, text = badge_text(shown)
        self.badge.setText(text)
        self.badge.setStyleSheet(f"QLabel#familiarityBadge {{ {_STYLES[self.state]} border-radius: 4px; "
                                 "padding: 4px 8px; }")
        self.compute_button.setVisible(shown.familiarity is None and shown.can_compute)
        self.compute_button.setEnabled(True)
        nearest = shown.familiarity.nearest if shown.familiarity is not None else []
        self.neighbours_title.setVisible(bool(nearest))
        for i, near in enumerate(nearest):
            button = self._neighbour_button(near, shown.thumbnails[i] if i < len(shown.thumbnails) else None)
            self._row.insertWidget(i, button)
            self.neighbour_buttons.append(button)

    def set_computing(self) -> None:
        self.compute_button.setEnabled(False)
        self.badge.setText("Computing familiarity: one pass over the training and validation images…")

    def _neighbour_button(self, near, thumbnail) -> QToolButton:
        button = QToolButton()
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        button.setText(f"{near.label}\n{near.distance:.2f}")
        button.setToolTip(f"{near.path}\nlabel {near.label}, distance {near.distance:.3f}"
                          + ("" if thumbnail is not None else "\n(not a file: cannot be opened)"))
        if thumbnail is not None:
            button.setIcon(pixmap_from_array(thumbnail))
            button.setIconSize(QSize(NEIGHBOUR_PX, NEIGHBOUR_PX))
            button.clicked.connect(lambda _=False, path=near.path: self.neighbourChosen.emit(path))
        else:
            button.setEnabled(False)
        return button
