"""The Data tab's run options: the input image size, the validation share of folders that have no val/
sub-folder, and how many shapes images to draw. They are the run settings' image_size, val_fraction and
train_count (DataSpec fields); limits and defaults come from core.catalog."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from core import catalog
from gui.run_settings_model import RunSettingsModel, bind_spin

AUTO_SIZE = 0  # the spin box's special value: the dataset's own size
MIN_SIZE, MAX_SIZE = int(catalog.IMAGE_SIZE.minimum), int(catalog.IMAGE_SIZE.maximum)


class DataOptions(QWidget):
    size_changed = Signal()  # the image size the run (and the preview, and the model's input) will use
    share_changed = Signal()  # the validation share

    def __init__(self, settings: RunSettingsModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.image_size = QSpinBox()
        self.image_size.setRange(AUTO_SIZE, MAX_SIZE)
        self.image_size.setSingleStep(int(catalog.IMAGE_SIZE.step))
        self.image_size.setSpecialValueText("auto")
        self.image_size.setSuffix(" px")
        self.image_size.setToolTip("Images are resized to this square size for training and inspection.\n"
                                   "auto: the dataset's own (shapes 40, MNIST 28, CIFAR-10 32, folders 64).\n"
                                   "Pretrained models usually want 224.")
        share = catalog.VAL_FRACTION
        self.val_share = QDoubleSpinBox()
        self.val_share.setRange(share.minimum * 100, share.maximum * 100)
        self.val_share.setDecimals(0)
        self.val_share.setSingleStep(share.step * 100)
        self.val_share.setSuffix(" %")
        self.val_share.setToolTip("For a folder without a val/ sub-folder: the share of each class held out for\n"
                                  "validation (a stratified split, fixed by the seed). Ignored otherwise.")
        count = catalog.SHAPES_TRAIN_COUNT
        self.train_count = QSpinBox()
        self.train_count.setRange(int(count.minimum), int(count.maximum))
        self.train_count.setSingleStep(int(count.step))
        self.train_count.setToolTip("How many shapes images to draw for training (validation gets an eighth as many)")
        bind_spin(settings, "train_count", self.train_count)
        self.train_count_label = QLabel("Shapes images")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.train_count_label)
        layout.addWidget(self.train_count)
        layout.addSpacing(8)
        layout.addWidget(QLabel("Image size"))
        layout.addWidget(self.image_size)
        layout.addSpacing(8)
        layout.addWidget(QLabel("Validation share"))
        layout.addWidget(self.val_share)
        self._show_size(settings.get("image_size"))
        self._show_share(settings.get("val_fraction"))
        self.image_size.valueChanged.connect(lambda _v: settings.update({"image_size": self.chosen_image_size()}))
        self.val_share.valueChanged.connect(lambda v: settings.update({"val_fraction": round(v / 100.0, 4)}))
        settings.changed.connect(self._on_setting)

    def _on_setting(self, key: str, value) -> None:
        if key == "image_size":
            self._show_size(value)
            self.size_changed.emit()
        elif key == "val_fraction":
            self._show_share(value)
            self.share_changed.emit()

    def _show_size(self, size) -> None:
        if self.chosen_image_size() != size:
            self.image_size.setValue(AUTO_SIZE if size is None else int(size))

    def _show_share(self, fraction: float) -> None:
        if round(self.val_share.value() / 100.0, 4) != fraction:
            self.val_share.setValue(fraction * 100.0)

    def set_split_fixed(self, fixed: bool) -> None:
        """The dataset brings its own validation split (a val/ folder, a standard set): the share does not apply."""
        self.val_share.setEnabled(not fixed)

    def set_shapes(self, shapes: bool) -> None:
        """The image count only means something for the generated shapes set: show it only then."""
        self.train_count.setVisible(shapes)
        self.train_count_label.setVisible(shapes)

    def chosen_image_size(self) -> int | None:
        """None: the dataset's own size. Values below MIN_SIZE (typed in) count as MIN_SIZE."""
        size = self.image_size.value()
        return None if size == AUTO_SIZE else max(MIN_SIZE, size)

    def values(self) -> dict:
        return {"image_size": self.chosen_image_size(), "val_fraction": round(self.val_share.value() / 100.0, 4)}
