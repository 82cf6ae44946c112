"""The Data tab's run options that the training form has no room for: the input image size and the validation
share of folders that have no val/ sub-folder. They become DataSpec.image_size and DataSpec.val_fraction."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSpinBox, QWidget

AUTO_SIZE = 0  # the spin box's special value: the dataset's own size
MIN_SIZE, MAX_SIZE = 16, 1024  # under 16 px the built-in cnn pools to nothing; over 1024 nobody trains on a CPU


class DataOptions(QWidget):
    size_changed = Signal()  # the image size the run (and the preview, and the model's input) will use
    share_changed = Signal()  # the validation share

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image_size = QSpinBox()
        self.image_size.setRange(AUTO_SIZE, MAX_SIZE)
        self.image_size.setSingleStep(16)
        self.image_size.setSpecialValueText("auto")
        self.image_size.setSuffix(" px")
        self.image_size.setToolTip("Images are resized to this square size for training and inspection.\n"
                                   "auto: the dataset's own (shapes 64, MNIST 28, CIFAR-10 32, folders 64).\n"
                                   "Pretrained models usually want 224.")
        self.val_share = QDoubleSpinBox()
        self.val_share.setRange(5.0, 50.0)
        self.val_share.setDecimals(0)
        self.val_share.setSingleStep(5.0)
        self.val_share.setSuffix(" %")
        self.val_share.setValue(20.0)
        self.val_share.setToolTip("For a folder without a val/ sub-folder: the share of each class held out for\n"
                                  "validation (a stratified split, fixed by the seed). Ignored otherwise.")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Image size"))
        layout.addWidget(self.image_size)
        layout.addSpacing(8)
        layout.addWidget(QLabel("Validation share"))
        layout.addWidget(self.val_share)
        self.image_size.valueChanged.connect(self.size_changed)
        self.val_share.valueChanged.connect(self.share_changed)

    def set_split_fixed(self, fixed: bool) -> None:
        """The dataset brings its own validation split (a val/ folder, a standard set): the share does not apply."""
        self.val_share.setEnabled(not fixed)

    def chosen_image_size(self) -> int | None:
        """None: the dataset's own size. Values below MIN_SIZE (typed in) count as MIN_SIZE."""
        size = self.image_size.value()
        return None if size == AUTO_SIZE else max(MIN_SIZE, size)

    def values(self) -> dict:
        return {"image_size": self.chosen_image_size(), "val_fraction": round(self.val_share.value() / 100.0, 4)}

    def set_values(self, d: dict) -> None:
        """Apply saved values; anything unusable is skipped (old settings never break the tab)."""
        size = d.get("image_size", "missing")
        if size is None or (isinstance(size, (int, float)) and not isinstance(size, bool)):
            self.image_size.setValue(AUTO_SIZE if size is None else int(size))
        share = d.get("val_fraction")
        if isinstance(share, (int, float)) and not isinstance(share, bool):
            self.val_share.setValue(float(share) * 100.0)
