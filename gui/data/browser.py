"""The dataset browser: a scrollable grid of thumbnails, filtered by class. Thumbnails load lazily off the
GUI thread (ThumbnailModel), so a folder of thousands of images opens at once."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListView, QVBoxLayout, QWidget

from gui.concurrent import BackgroundTask
from gui.data.thumbnails import THUMB_SIZE, DiskCache, PathRole, ThumbItem, ThumbnailModel, default_cache_dir


def folder_items(root: str | Path) -> tuple[list[str], list[ThumbItem]]:
    """Every image file of an image-folder dataset as ThumbItems (train, val, test splits when present)."""
    from core.data.folder import DatasetError, class_folders, find_split_folders, list_images

    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    splits = find_split_folders(root)
    if splits:
        classes = [p.name for p in class_folders(splits["train"])]
        places = [(name, folder) for name, folder in splits.items()]
    else:
        classes = [p.name for p in class_folders(root)]
        places = [("", root)]
    items = []
    for split, folder in places:
        for cls in classes:
            if (folder / cls).is_dir():
                items += [ThumbItem(str(p), cls, p, split and f"split: {split}") for p in list_images(folder / cls)]
    return classes, items


def shapes_items(count: int = 300, size: int = 64, seed: int = 0) -> tuple[list[str], list[ThumbItem]]:
    """Thumbnails of the built-in procedural shapes, straight from the in-memory arrays."""
    from core.data.shapes import SHAPE_CLASSES, make_shapes

    images, labels = make_shapes(count, size, seed)
    return list(SHAPE_CLASSES), [ThumbItem(f"shapes:{i}", SHAPE_CLASSES[int(lbl)], images[i], f"shapes #{i}")
                                 for i, lbl in enumerate(labels)]


def standard_items(name: str, count: int = 2000) -> tuple[list[str], list[ThumbItem]]:
    """The first `count` training images of a downloaded standard set (MNIST, ...); never downloads."""
    from core.data.folder import DatasetError
    from core.data.standard import STANDARD, load_standard, missing_files

    if missing_files(name):
        raise DatasetError(f"{STANDARD[name].title} is not downloaded yet; it downloads when the first run starts")
    images, labels, _test_images, _test_labels, classes = load_standard(name)
    arrays = images[:count].permute(0, 2, 3, 1).numpy()  # N, H, W, C
    if arrays.shape[-1] == 1:
        arrays = arrays[..., 0]
    return list(classes), [ThumbItem(f"{name}:{i}", classes[int(labels[i])], arrays[i], f"{name} train #{i}")
                           for i in range(len(arrays))]


class DatasetBrowser(QWidget):
    loaded = Signal()  # the list of images is there (thumbnails keep loading as they are shown)
    failed = Signal(str)
    inspect_requested = Signal(list)  # file paths the user double-clicked (or pressed Enter on)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._classes: list[str] = []
        self._all: list[ThumbItem] = []
        self.class_filter = QComboBox()
        self.class_filter.setMinimumContentsLength(18)
        self.class_filter.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.count_label = QLabel()
        top = QHBoxLayout()
        top.addWidget(QLabel("Class"))
        top.addWidget(self.class_filter)
        top.addWidget(self.count_label, 1)
        self.model = ThumbnailModel(self, disk_cache=DiskCache(default_cache_dir()))
        self.view = QListView()
        self.view.setViewMode(QListView.IconMode)
        self.view.setModel(self.model)
        self.view.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.view.setGridSize(QSize(THUMB_SIZE + 12, THUMB_SIZE + 12 + self.fontMetrics().height()))
        self.view.setTextElideMode(Qt.ElideRight)
        self.view.setUniformItemSizes(True)  # no per-row size queries: thousands of rows lay out instantly
        self.view.setResizeMode(QListView.Adjust)
        self.view.setMovement(QListView.Static)
        self.view.setLayoutMode(QListView.Batched)
        self.view.setBatchSize(500)
        self.view.setSelectionMode(QListView.ExtendedSelection)
        self.view.setSpacing(2)
        self.view.setToolTip("")
        self.view.activated.connect(self._on_activated)  # double-click or Enter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self._task = BackgroundTask(self)
        self._task.finished.connect(self._on_listed)
        self._task.failed.connect(self._on_failed)
        self.class_filter.currentIndexChanged.connect(self._apply_filter)

    # --- loading ---
    def open_folder(self, root: str | Path) -> None:
        self._set_listing("Listing images…")
        self._task.submit(lambda ctx, root=str(root): folder_items(root))

    def open_shapes(self, count: int = 300) -> None:
        self._set_listing("Drawing shapes…")
        self._task.submit(lambda ctx: shapes_items(count))

    def open_standard(self, name: str) -> None:
        self._set_listing("Reading images…")
        self._task.submit(lambda ctx: standard_items(name))

    def _set_listing(self, text: str) -> None:
        self.count_label.setText(text)

    def _on_listed(self, result) -> None:
        self._classes, self._all = result
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem(f"All classes ({len(self._all)})", None)
        counts = {c: 0 for c in self._classes}
        for item in self._all:
            counts[item.label] = counts.get(item.label, 0) + 1
        for c in self._classes:
            self.class_filter.addItem(f"{c} ({counts[c]})", c)
        self.class_filter.blockSignals(False)
        self._apply_filter()
        self.loaded.emit()

    def _on_failed(self, message: str) -> None:
        self.model.set_items([])
        self.count_label.setText(f"Cannot list the images: {message}")
        self.failed.emit(message)

    def _on_activated(self, _index) -> None:
        rows = self.view.selectionModel().selectedRows() or [_index]
        paths = [p for p in (self.model.data(i, PathRole) for i in rows) if p]
        if paths:
            self.inspect_requested.emit(paths)

    # --- filtering ---
    def classes(self) -> list[str]:
        return list(self._classes)

    def set_class(self, name: str | None) -> None:
        i = self.class_filter.findData(name)
        if i >= 0:
            self.class_filter.setCurrentIndex(i)

    def _apply_filter(self) -> None:
        wanted = self.class_filter.currentData()
        items = self._all if wanted is None else [it for it in self._all if it.label == wanted]
        self.model.show_labels = wanted is None and len(self._classes) > 1
        self.model.set_items(items)
        self.view.scrollToTop()
        shown = f"{len(items)} image{'s' if len(items) != 1 else ''}"
        self.count_label.setText(shown + ("" if wanted is None else f" of class '{wanted}'"))

    def shutdown(self) -> None:
        self._task.shutdown()
        self.model.shutdown()
