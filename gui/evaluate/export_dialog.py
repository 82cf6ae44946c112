"""File > Export Model…: one dialog with a title, the three formats each said in a line, and where to write the
file (its suffix follows the format). The export itself runs on the Evaluate tab's worker (EvaluateTab.export_model).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QRadioButton, QVBoxLayout, QWidget)

FORMATS = {  # core.evaluate.export.FORMATS (torch-free copy): suffix, what it is for
    "onnx": (".onnx", "ONNX: for onnxruntime, OpenCV, TensorRT and most other runtimes"),
    "pt2": (".pt2", "torch.export program (.pt2): PyTorch's own format for AOTInductor and ExecuTorch"),
    "torchscript": (".pt", "TorchScript: for LibTorch (C++) and older PyTorch deployments"),
}


class ExportDialog(QDialog):
    def __init__(self, model_name: str, folder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export Model")
        self.setMinimumWidth(560)
        intro = QLabel(f"Export the current model ({model_name}) for use outside Layerscope. The file is checked "
                       "after writing: its outputs are compared with the checkpoint's on the same images.")
        intro.setWordWrap(True)
        self.group = QButtonGroup(self)
        choices = QGridLayout()
        for row, (fmt, (_, text)) in enumerate(FORMATS.items()):
            button = QRadioButton(text)
            button.setProperty("format", fmt)
            self.group.addButton(button, row)
            choices.addWidget(button, row, 0)
        self.group.button(0).setChecked(True)
        self.path = QLineEdit(str(Path(folder) / f"model{FORMATS['onnx'][0]}"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(QLabel("Save as"))
        where.addWidget(self.path, 1)
        where.addWidget(browse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.group.idToggled.connect(lambda _id, on: on and self._follow_format())
        self.path.textChanged.connect(lambda text: self.export_button.setEnabled(bool(text.strip())))
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(choices)
        layout.addLayout(where)
        layout.addWidget(self.buttons)

    def format(self) -> str:
        return self.group.checkedButton().property("format")

    def set_format(self, fmt: str) -> None:
        next(b for b in self.group.buttons() if b.property("format") == fmt).setChecked(True)

    def out_path(self) -> str:
        return self.path.text().strip()

    def _follow_format(self) -> None:
        """The file's suffix follows the chosen format (model.onnx -> model.pt2)."""
        current = Path(self.out_path() or "model")
        self.path.setText(str(current.with_suffix(FORMATS[self.format()][0])))

    def _browse(self) -> None:
        suffix = FORMATS[self.format()][0]
        path, _ = QFileDialog.getSaveFileName(self, "Export model as", self.out_path(), f"Model (*{suffix})")
        if path:
            self.path.setText(path)
