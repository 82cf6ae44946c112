"""Above the Evaluate page's gallery: which of a cell's images to show by familiarity, in which order, and
"Compute familiarity" when the checkpoint has no feature bank.

An image is unfamiliar when its familiarity score is below the bank's threshold (the score above which 95 %
of the validation images lie; core/familiarity/calibration.py). Without a bank every image's familiarity is
unknown: the filter and the familiarity orders are off and the bar says so.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

SHOW = ("All images", "Unfamiliar only", "Familiar only")
ORDERS = ("Most confident first", "Least familiar first", "Most familiar first")


def chosen_images(members: np.ndarray, confidence: np.ndarray, familiarity: np.ndarray | None,
                  threshold: float | None, show: str, order: str) -> np.ndarray:
    """A cell's image indices (`members`, most confident first) kept by `show` and sorted by `order`.
    confidence, familiarity: per image of the whole evaluation. Without familiarity: all, most confident first."""
    if familiarity is None or threshold is None:
        return members
    scores = familiarity[members]
    if show == "Unfamiliar only":
        members, scores = members[scores < threshold], scores[scores < threshold]
    elif show == "Familiar only":
        members, scores = members[scores >= threshold], scores[scores >= threshold]
    if order == "Least familiar first":
        return members[np.argsort(scores, kind="stable")]
    if order == "Most familiar first":
        return members[np.argsort(-scores, kind="stable")]
    return members[np.argsort(-confidence[members], kind="stable")]


class FamiliarityBar(QWidget):
    changed = Signal()  # the filter or the order changed: show the cell again
    computeRequested = Signal()  # build the checkpoint's feature bank, then evaluate again

    def __init__(self, parent=None):
        super().__init__(parent)
        self.show_box = QComboBox()
        self.show_box.addItems(SHOW)
        self.show_box.setToolTip("Unfamiliar: the image scores below the threshold above which 95 % of the "
                                 "validation images score (unlike the training images, as the model sees them)")
        self.order_box = QComboBox()
        self.order_box.addItems(ORDERS)
        self.note = QLabel("")
        self.compute_button = QPushButton("Compute familiarity")
        self.compute_button.setToolTip("One pass over the checkpoint's training and validation images; the feature "
                                       "bank is stored beside the checkpoint, then the evaluation runs again")
        self.compute_button.clicked.connect(self.computeRequested)
        self.show_box.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.order_box.currentIndexChanged.connect(lambda _: self.changed.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Show"))
        layout.addWidget(self.show_box)
        layout.addWidget(self.order_box)
        layout.addWidget(self.note, 1)
        layout.addWidget(self.compute_button)
        self.set_known(False, can_compute=False)
        self.note.setText("")  # nothing evaluated yet

    @property
    def show_choice(self) -> str:
        return self.show_box.currentText()

    @property
    def order_choice(self) -> str:
        return self.order_box.currentText()

    def set_known(self, known: bool, *, unfamiliar: int = 0, total: int = 0, can_compute: bool = False,
                  busy: bool = False) -> None:
        """known: the evaluation has each image's familiarity. can_compute: its checkpoint is a file the bank
        can be stored beside."""
        self.show_box.setEnabled(known)
        self.order_box.model().item(1).setEnabled(known)
        self.order_box.model().item(2).setEnabled(known)
        if not known:
            self.show_box.setCurrentIndex(0)
            self.order_box.setCurrentIndex(0)
        self.compute_button.setVisible(not known and can_compute)
        self.compute_button.setEnabled(not busy)
        if busy:
            self.note.setText("Computing the feature bank…")
        elif known:
            self.note.setText(f"<b>{unfamiliar}</b> of {total} images unfamiliar")
        else:
            self.note.setText("Familiarity unknown: the checkpoint has no feature bank" if can_compute
                              else "Familiarity unknown")
