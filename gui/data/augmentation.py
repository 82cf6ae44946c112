"""Augmentation options with a live preview: a grid of the current dataset's images as training will see
them. The preview is recomputed off the GUI thread a moment after the last change."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from core import catalog
from gui.concurrent import BackgroundTask

PREVIEW_COLUMNS = 6
PREVIEW_COUNT = 18
PREVIEW_SIZE = 96


def array_to_pixmap(arr: np.ndarray, size: int = PREVIEW_SIZE) -> QPixmap:
    arr = np.ascontiguousarray(arr.astype(np.uint8))
    if arr.ndim == 2 or arr.shape[-1] == 1:
        arr = np.ascontiguousarray(np.repeat(arr.reshape(arr.shape[0], arr.shape[1], 1), 3, axis=2))
    h, w = arr.shape[:2]
    image = QImage(arr.data, w, h, 3 * w, QImage.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation)


def compute_preview(dataset: str, image_size: int | None, augmentation: dict, count: int, seed: int):
    """`count` training images of `dataset` as the augmentation shows them -> uint8 [n, S, S, 3]."""
    from core import catalog
    from core.data.folder import DatasetError
    from core.data.preview import augmentation_preview
    from core.data.spec import DataSpec
    from core.data.transforms import Augmentation

    if dataset in catalog.STANDARD_DATASETS:  # a preview never starts a download
        from core.data.standard import STANDARD, missing_files

        if missing_files(dataset):
            raise DatasetError(f"{STANDARD[dataset].title} is not downloaded yet; it downloads when the first run starts")

    # A small shapes set is plenty for a preview (the full one takes seconds to draw).
    spec = DataSpec(name=dataset, image_size=image_size, train_count=PREVIEW_COUNT * 4, val_count=10)
    return augmentation_preview(spec, Augmentation.from_dict(augmentation), n=count, seed=seed)


class AugmentationPanel(QWidget):
    changed = Signal()  # an option changed
    preview_ready = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        # Labels, defaults and limits from core's catalogue (the CLI's --augment words use the same).
        options = {a.field: a.setting for a in catalog.AUGMENTATIONS.values()}
        crop, flip = options["random_resized_crop"], options["horizontal_flip"]
        rotation, jitter, scale = options["rotation_degrees"], options["colour_jitter"], catalog.CROP_SCALE_MIN
        self.crop = QCheckBox(crop.label, checked=crop.default)
        self.crop.setToolTip(crop.help)
        self.crop_scale = QDoubleSpinBox(minimum=scale.minimum, maximum=scale.maximum, singleStep=scale.step,
                                         value=scale.default, decimals=2)
        self.crop_scale.setPrefix("min scale ")
        self.crop_scale.setToolTip(scale.help)
        self.flip = QCheckBox(flip.label, checked=flip.default)
        self.flip.setToolTip(flip.help)
        self.rotation = QSpinBox(minimum=int(rotation.minimum), maximum=int(rotation.maximum), value=int(rotation.default))
        self.rotation.setSuffix("°")
        self.rotation.setToolTip("Rotate by a random angle in ± this many degrees (0: off)")
        self.jitter = QDoubleSpinBox(minimum=jitter.minimum, maximum=jitter.maximum, singleStep=jitter.step,
                                     value=jitter.default, decimals=2)
        self.jitter.setToolTip("Random brightness / contrast / saturation change of up to this fraction (0: off)")
        for spin in (self.crop_scale, self.rotation, self.jitter):
            spin.setMaximumWidth(140)  # numbers, not sentences
        crop_row = QHBoxLayout()
        crop_row.addWidget(self.crop)
        crop_row.addWidget(self.crop_scale)
        crop_row.addStretch(1)
        form = QFormLayout()
        form.addRow(crop_row)
        form.addRow(self.flip)
        form.addRow("Rotation", self.rotation)
        form.addRow("Colour jitter", self.jitter)

        self.reshuffle = QPushButton("New draws")
        self.reshuffle.setToolTip("Other images, other random draws")
        self.status = QLabel()
        self.status.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(QLabel("<b>Preview</b>: training images as the model will see them"), 1)
        head.addWidget(self.reshuffle)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(4)
        self.grid.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_host)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(head)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)

        self._dataset: str | None = None
        self._image_size: int | None = None
        self._seed = 0
        self._stale = False
        self._task = BackgroundTask(self, debounce_ms=250)
        self._task.finished.connect(self._on_preview)
        self._task.failed.connect(self._on_failed)
        for w in (self.crop, self.flip):
            w.toggled.connect(self._on_option)
        for w in (self.crop_scale, self.rotation, self.jitter):
            w.valueChanged.connect(self._on_option)
        self.reshuffle.clicked.connect(self._new_draws)
        self._sync_enabled()

    # --- options ---
    def augmentation_dict(self) -> dict:
        """The fields of core.data.transforms.Augmentation."""
        return {"random_resized_crop": self.crop.isChecked(), "crop_scale_min": round(self.crop_scale.value(), 3),
                "horizontal_flip": self.flip.isChecked(), "rotation_degrees": float(self.rotation.value()),
                "colour_jitter": round(self.jitter.value(), 3)}

    def augmentation(self):
        from core.data.transforms import Augmentation

        return Augmentation.from_dict(self.augmentation_dict())

    def set_augmentation(self, d: dict) -> None:
        self.crop.setChecked(bool(d.get("random_resized_crop", False)))
        self.crop_scale.setValue(float(d.get("crop_scale_min", catalog.CROP_SCALE_MIN.default)))
        self.flip.setChecked(bool(d.get("horizontal_flip", False)))
        self.rotation.setValue(int(d.get("rotation_degrees", 0)))
        self.jitter.setValue(float(d.get("colour_jitter", 0.0)))

    def _sync_enabled(self) -> None:
        self.crop_scale.setEnabled(self.crop.isChecked())

    def _on_option(self, *_args) -> None:
        self._sync_enabled()
        self.changed.emit()
        self.refresh()

    def _new_draws(self) -> None:
        self._seed += 1000
        self.refresh()

    # --- preview ---
    def set_dataset(self, name: str | None, image_size: int | None = None) -> None:
        """Preview this dataset ('shapes', a standard set's name or a folder path); None clears it."""
        self._dataset, self._image_size = name, image_size
        self.refresh()

    def refresh(self) -> None:
        if not self.isVisible():  # nobody looks: compute when the tab is shown
            self._stale = True
            return
        self._stale = False
        if not self._dataset:
            self._task.cancel()
            self._clear_grid()
            self.status.setText("Open a dataset to preview its augmentation.")
            return
        self.status.setText("Updating the preview…")
        args = (self._dataset, self._image_size, self.augmentation_dict(), PREVIEW_COUNT, self._seed)
        self._task.submit(lambda ctx: compute_preview(*args))

    def is_busy(self) -> bool:
        return self._task.busy

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _clear_grid(self) -> None:
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()

    def preview_cells(self) -> int:
        return self.grid.count()

    def _on_preview(self, images) -> None:
        self._clear_grid()
        for i, arr in enumerate(images):
            label = QLabel()
            label.setPixmap(array_to_pixmap(np.asarray(arr)))
            label.setFixedSize(PREVIEW_SIZE + 4, PREVIEW_SIZE + 4)
            label.setAlignment(Qt.AlignCenter)
            self.grid.addWidget(label, i // PREVIEW_COLUMNS, i % PREVIEW_COLUMNS)
        if not len(images):
            self.status.setText("No training images to preview.")
            self.preview_ready.emit()
            return
        self.status.setText("" if any(self.augmentation_dict()[k] for k in
                                      ("random_resized_crop", "horizontal_flip", "rotation_degrees", "colour_jitter"))
                            else "No augmentation chosen: training sees every image resized and centre-cropped, as here.")
        self.preview_ready.emit()

    def _on_failed(self, message: str) -> None:
        self._clear_grid()
        self.status.setText(f"No preview: {message}")

    def shutdown(self) -> None:
        self._task.shutdown()
