"""A cell's images as thumbnails, most confident first, decoded on the worker primitive in chunks.

The first chunk is small so the first thumbnails appear at once; later chunks are bigger. Each chunk arrives
as one partial result (one model update for many icons), so the GUI thread stays free while a cell of
thousands of images fills. A new cell supersedes the old one's loading (BackgroundTask's generation).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QListView, QMenu

from gui.concurrent import BackgroundTask
from gui.evaluate.jobs import thumbnails_job

THUMB = 88
FIRST_CHUNK = 4
CHUNK = 48


class GalleryModel(QAbstractListModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: list[dict] = []  # file, caption, tooltip
        self.pixmaps: dict[int, QPixmap] = {}
        self._blank = QPixmap(THUMB, THUMB)
        self._blank.fill(QColor("#dddddd"))

    def set_items(self, items: list[dict]) -> None:
        self.beginResetModel()
        self.items, self.pixmaps = items, {}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item["caption"]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmaps.get(index.row(), self._blank)
        if role == Qt.ItemDataRole.ToolTipRole:
            return item["tooltip"]
        if role == Qt.ItemDataRole.ForegroundRole and item.get("unfamiliar"):
            return QColor("#c92a2a")  # an unfamiliar image's caption in red
        return None

    def set_thumbnails(self, pairs) -> None:
        rows = []
        for row, image in pairs:
            if image is not None and row < len(self.items):
                self.pixmaps[row] = QPixmap.fromImage(image)
                rows.append(row)
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [Qt.ItemDataRole.DecorationRole])


class Gallery(QListView):
    """imageClicked(file, true_index, predicted_index) when an image is clicked."""

    imageClicked = Signal(str, int, int)
    correctionRequested = Signal(str, str, str)  # file, action (relabel / exclude / confirm), new label
    firstThumbnails = Signal()  # the first chunk of the current cell is on screen (benchmarks, tests)

    def __init__(self, parent=None, corrections: bool = True):
        super().__init__(parent)
        self.model_ = GalleryModel(self)
        self.setModel(self.model_)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 20, THUMB + 22))
        self.setWordWrap(False)
        self.setSpacing(2)
        # One decoding thread: on a 2-core machine a second one took the GUI thread's core (timer p99 14-23 ms
        # with two, 9-14 ms with one; benchmarks/evaluate_gui.py), and the first chunk is small anyway.
        self.loader = BackgroundTask(self, threads=1, imports=("PIL.Image", "core.io.images"))
        self.loader.partial.connect(self._on_chunk)
        self._waiting_first = False
        self._cell = (-1, -1)
        self.clicked.connect(self._on_clicked)
        self.classes: list[str] = []  # the relabel menu's choices
        if corrections:  # relabel / exclude / "label is right" on a right click
            self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            self.customContextMenuRequested.connect(self._context_menu)

    def count(self) -> int:
        return self.model_.rowCount()

    def show_images(self, files: list[str], confidences: list[float] | None, cell: tuple[int, int] = (-1, -1),
                    images=None, familiarity: list[float] | None = None, threshold: float | None = None) -> None:
        """Replace the gallery with `files` (already in the order to show) and start loading thumbnails.
        confidences: a caption's percentage (None: the file name alone). images: the evaluation's
        MemoryImages, which draws in-memory items ("shapes:val/00012"). familiarity: each image's score, shown
        in the caption (red below `threshold`: unfamiliar)."""
        self._cell = cell
        if confidences is None:
            items = [{"file": f, "caption": Path(f).stem[:14], "tooltip": f} for f in files]
        elif familiarity is None or threshold is None:
            items = [{"file": f, "caption": f"{c:.0%} {Path(f).stem[:9]}", "tooltip": f"{f}\nconfidence {c:.3f}"}
                     for f, c in zip(files, confidences)]
        else:
            items = [{"file": f, "caption": f"{c:.0%} fam {s:.2f}", "unfamiliar": s < threshold,
                      "tooltip": f"{f}\nconfidence {c:.3f}\nfamiliarity {s:.3f} "
                                 f"({'unfamiliar' if s < threshold else 'familiar'}: threshold {threshold:.3f})"}
                     for f, c, s in zip(files, confidences, familiarity)]
        self.model_.set_items(items)
        self._waiting_first = bool(files)
        rows = list(enumerate(files))
        if not rows:
            self.loader.cancel()
            return
        self.loader.submit(thumbnails_job(rows[:FIRST_CHUNK], THUMB, images), priority=1)
        for start in range(FIRST_CHUNK, len(rows), CHUNK):
            self.loader.add(thumbnails_job(rows[start:start + CHUNK], THUMB, images))

    def _on_chunk(self, pairs) -> None:
        self.model_.set_thumbnails(pairs)
        if self._waiting_first:
            self._waiting_first = False
            self.firstThumbnails.emit()

    def _on_clicked(self, index) -> None:
        self.imageClicked.emit(self.model_.items[index.row()]["file"], *self._cell)

    def _context_menu(self, pos) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        file = self.model_.items[index.row()]["file"]
        menu = QMenu(self)
        relabel = menu.addMenu("Relabel as")
        for name in self.classes:
            relabel.addAction(name, lambda n=name: self.correctionRequested.emit(file, "relabel", n))
        menu.addAction("Exclude from the dataset", lambda: self.correctionRequested.emit(file, "exclude", ""))
        menu.addAction("Label is right", lambda: self.correctionRequested.emit(file, "confirm", ""))
        menu.popup(self.viewport().mapToGlobal(pos))

    def shutdown(self) -> None:
        self.loader.shutdown()
