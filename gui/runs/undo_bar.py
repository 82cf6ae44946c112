"""A bar under the runs table: "Deleted 3 runs  [Undo]", hidden until something can be undone."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton


class UndoBar(QFrame):
    undoRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("undoBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Put the deleted runs back (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undoRequested)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 4, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.undo_button)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()
