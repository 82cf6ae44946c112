"""The Data tab: choose or open a dataset; its health report on the left, and on the right a thumbnail
browser and the augmentation options with a live preview.

It owns the run settings' dataset, image size, validation share, shapes image count and augmentation: a
change from anywhere (a drop, a remembered setting) opens the dataset here.

Nothing here imports torch on the GUI thread: the scans, thumbnails and previews run on worker threads.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSplitter, QTabWidget,
                               QVBoxLayout, QWidget)

from core import catalog
from gui.data.augmentation import AugmentationPanel
from gui.data.browser import DatasetBrowser
from gui.data.health_view import HealthView
from gui.data.options import DataOptions
from gui.run_settings_model import RunSettingsModel

SHAPES = "shapes"


def _has_val_folder(folder: str) -> bool:
    try:
        return (Path(folder) / "val").is_dir()
    except OSError:
        return False


class DataView(QWidget):
    input_changed = Signal(int, int, int)  # classes, channels, image size: the model's input and output layers
    augmentation_changed = Signal()
    inspectRequested = Signal(list)  # image files the user double-clicked in the browser

    def __init__(self, settings: RunSettingsModel | None = None, parent=None):
        super().__init__(parent)
        self.settings = settings if settings is not None else RunSettingsModel(parent=self)
        self._name: str | None = None
        self._engine_ready = True
        self.chooser = QComboBox()
        self.chooser.setMinimumContentsLength(28)
        self.chooser.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        for name, info in catalog.DATASETS.items():
            self.chooser.addItem(info.description, name)
        self.open_button = QPushButton("Open Folder…")
        self.open_button.setToolTip("A folder with one sub-folder per class (train/ and val/ used when present) (Ctrl+D)")
        self.rescan_button = QPushButton("Check Again")
        self.rescan_button.setToolTip("Run the health check again (after fixing files)")
        self.options = DataOptions(self.settings)
        self.options.set_shapes(self.settings.get("dataset") == SHAPES)
        self._select_in_chooser(self.settings.get("dataset"))  # opened once the engine is ready
        self._input: tuple[int, int, int] | None = None  # classes, channels, natural size of the open dataset
        # A new validation share changes a split folder's counts: check again once the user stops clicking.
        self._rescan_timer = QTimer(self, singleShot=True, interval=600)
        self._rescan_timer.timeout.connect(self._check_health)
        top = QHBoxLayout()
        top.addWidget(QLabel("Dataset"))
        top.addWidget(self.chooser)
        top.addWidget(self.open_button)
        top.addWidget(self.rescan_button)
        top.addStretch(1)
        top.addWidget(self.options)

        self.health = HealthView()
        self.browser = DatasetBrowser()
        self.augmentation_panel = AugmentationPanel()
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.browser, "Images")
        self.side_tabs.addTab(self.augmentation_panel, "Augmentation")
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.health)
        splitter.addWidget(self.side_tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([560, 640])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        self.chooser.activated.connect(lambda i: self.open_dataset(self.chooser.itemData(i)))
        self.open_button.clicked.connect(self.choose_folder)
        self.rescan_button.clicked.connect(self._rescan)
        self.browser.loaded.connect(self._on_listed)
        self.browser.inspect_requested.connect(self.inspectRequested)
        self.health.class_clicked.connect(self.show_class)
        self._show_augmentation(self.settings.get("augmentation"))
        self.augmentation_panel.changed.connect(self._on_augmentation_edited)
        self.settings.changed.connect(self._on_setting)
        self.options.size_changed.connect(self._on_size_changed)
        self.options.share_changed.connect(self._on_share_changed)
        self.rescan_button.setEnabled(False)

    # --- what the training run uses ---
    def dataset_name(self) -> str | None:
        return self._name

    def augmentation_dict(self) -> dict:
        return self.augmentation_panel.augmentation_dict()

    def augmentation(self):
        return self.augmentation_panel.augmentation()

    def data_options(self) -> dict:
        """{"image_size": int or None (the dataset's own), "val_fraction": float}: DataSpec fields."""
        return self.settings.values(("image_size", "val_fraction"))

    def _is_folder(self) -> bool:
        return bool(self._name) and catalog.is_folder_dataset(self._name)

    def _on_setting(self, key: str, value) -> None:
        if key == "dataset":
            self._open(value)
        elif key == "augmentation":
            self._show_augmentation(value)

    def _show_augmentation(self, d: dict) -> None:
        """Show the settings' augmentation in the panel, then keep the panel's complete dict."""
        if d != self.augmentation_panel.augmentation_dict():
            try:
                self.augmentation_panel.set_augmentation(d)
            except (TypeError, ValueError):
                pass  # a damaged remembered entry: the panel keeps its values
        self.settings.update({"augmentation": self.augmentation_panel.augmentation_dict()})

    def _on_augmentation_edited(self) -> None:
        self.settings.update({"augmentation": self.augmentation_panel.augmentation_dict()})
        self.augmentation_changed.emit()

    def _on_share_changed(self) -> None:
        if self._is_folder() and self.options.val_share.isEnabled():
            self._rescan_timer.start()

    def _on_size_changed(self) -> None:
        if self._input is not None:
            self._emit_input(*self._input)
        if self._name:
            self.augmentation_panel.set_dataset(self._name, self.options.chosen_image_size())

    def _emit_input(self, classes: int, channels: int, natural_size: int) -> None:
        self._input = (classes, channels, natural_size)
        self.input_changed.emit(classes, channels, self.options.chosen_image_size() or natural_size)

    # --- opening ---
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder (one sub-folder per class)")
        if folder:
            self.open_dataset(folder)

    def set_engine_ready(self, ready: bool = True) -> None:
        """The window calls this with False until PyTorch has loaded: the dataset chosen meanwhile (a drop,
        or the remembered one) opens then, so torch is not imported twice at once."""
        self._engine_ready = ready
        if ready:
            self._open(self.settings.get("dataset"))

    def open_dataset(self, name: str | Path | None) -> None:
        """Open 'shapes', a standard set's name, or an image folder (a health check starts at once): it
        becomes the run's dataset."""
        if name is None:
            return
        if not self.settings.set("dataset", str(name)):  # already the run's dataset: open it if not yet
            self._open(str(name))

    def _open(self, name: str) -> None:
        if name == self._name:
            return
        self._select_in_chooser(name)
        self.options.set_shapes(name == SHAPES)
        if not self._engine_ready:
            self.health.show_message("Loading PyTorch… the dataset opens in a moment.")
            return
        self._name = name
        known = catalog.DATASETS.get(name)
        if known is not None:
            title, classes, channels, size = known.description, known.num_classes, known.channels, known.image_size
            self.rescan_button.setEnabled(False)
            if name == SHAPES:
                self.health.show_message(f"<b>{title}</b>: {classes} classes of {size}×{size} pictures, made "
                                         "from a seed (set how many above). Nothing to check.")
                self.browser.open_shapes()
            else:
                self.health.show_message(f"<b>{title}</b>: {classes} classes, {size}×{size}, "
                                         f"{'grayscale' if channels == 1 else 'colour'}. torchvision downloads it "
                                         "once, when the first run starts. Nothing to check.")
                self.browser.open_standard(name)
            self._emit_input(classes, channels, size)
            self.options.set_split_fixed(True)  # shapes and the standard sets come with their own val split
            self.augmentation_panel.set_dataset(name, self.options.chosen_image_size())
        else:
            self._input = None
            self.options.set_split_fixed(_has_val_folder(name))
            self.rescan_button.setEnabled(True)
            self._check_health()
            self.browser.open_folder(name)
            self.augmentation_panel.set_dataset(name, self.options.chosen_image_size())

    def _rescan(self) -> None:
        if self._is_folder():
            self._check_health()
            self.browser.open_folder(self._name)

    def _check_health(self) -> None:
        if self._is_folder():
            self.health.scan(self._name, self.settings.get("val_fraction"))

    def _select_in_chooser(self, name: str) -> None:
        index = self.chooser.findData(name)
        if index < 0:
            self.chooser.addItem(Path(name).name or name, name)
            index = self.chooser.count() - 1
            self.chooser.setItemData(index, name, Qt.ToolTipRole)
        self.chooser.setCurrentIndex(index)

    def _on_listed(self) -> None:
        if self._is_folder() and self.browser.classes():
            self._emit_input(len(self.browser.classes()), 3, catalog.FOLDER_IMAGE_SIZE)

    def show_class(self, name: str) -> None:
        """Browse one class (a click on its row in the report)."""
        self.side_tabs.setCurrentWidget(self.browser)
        self.browser.set_class(name)

    def is_busy(self) -> bool:
        return self.health.is_scanning() or self.augmentation_panel.is_busy()

    def shutdown(self) -> None:
        self._rescan_timer.stop()
        self.health.shutdown()
        self.browser.shutdown()
        self.augmentation_panel.shutdown()
