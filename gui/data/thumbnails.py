"""Thumbnails for thousands of images: a list model that loads them lazily, off the GUI thread, newest
request first, and keeps the most recent ones in an in-memory LRU cache.

The view only asks for the decoration of rows it paints, so only visible images are ever decoded; while one
loads, a placeholder is shown. Worker threads make QImages (safe off the GUI thread); the GUI thread turns
them into QPixmaps. With a DiskCache, thumbnails of files are also kept as small PNGs (keyed by path, size
and modification time), so a large folder opens fast the second time.
"""
from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QBuffer, QByteArray, QIODevice, QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from core.io.atomic import atomic_write
from gui.concurrent import BackgroundTask, TaskContext

THUMB_SIZE = 96
PathRole = Qt.UserRole + 1
ClassRole = Qt.UserRole + 2


@dataclass(frozen=True)
class ThumbItem:
    key: str  # cache key: the file path, or e.g. "shapes:12"
    label: str  # class name
    source: Any  # a Path, or an HxWx3 uint8 array (in-memory datasets)
    detail: str = ""  # tooltip extra (split, size, ...)


CACHE_DIR_ENV = "LAYERSCOPE_CACHE_DIR"


def default_cache_dir() -> Path:
    """$LAYERSCOPE_CACHE_DIR, else the user cache folder (platformdirs), + thumbnails/."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser() / "thumbnails"
    import platformdirs

    return Path(platformdirs.user_cache_dir("layerscope")) / "thumbnails"


class DiskCache:
    """Thumbnails of image files as PNGs in `folder`. Any failure just means a miss: never an error."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _file(self, path: Path, size: int) -> Path | None:
        try:
            st = path.stat()
        except OSError:
            return None
        key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{size}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}.png"

    def load(self, path: Path, size: int) -> QImage | None:
        file = self._file(path, size)
        if file is None or not file.exists():
            return None
        image = QImage(str(file))
        return None if image.isNull() else image

    def store(self, path: Path, size: int, image: QImage) -> None:
        file = self._file(path, size)
        if file is None:
            return
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            return
        try:  # atomic: a reader never sees half a file; no fsync, a lost thumbnail is simply made again
            atomic_write(file, lambda fh: fh.write(data.data()), sync=False)
        except OSError:
            pass


def make_thumbnail(source: Any, size: int = THUMB_SIZE) -> QImage:
    """A Path or an HxWx3 uint8 array -> a size x size QImage, the picture centred on a transparent square
    (so every cell of the grid lines up). Raises ImageLoadError on unreadable files."""
    return _centred(_scaled(source, size), size)


def _centred(image: QImage, size: int) -> QImage:
    square = QImage(size, size, QImage.Format_ARGB32_Premultiplied)
    square.fill(Qt.transparent)
    painter = QPainter(square)  # painting on a QImage is allowed off the GUI thread
    painter.drawImage((size - image.width()) // 2, (size - image.height()) // 2, image)
    painter.end()
    return square


def _scaled(source: Any, size: int) -> QImage:
    if isinstance(source, np.ndarray):
        arr = np.ascontiguousarray(source[..., :3] if source.ndim == 3 else np.repeat(source[..., None], 3, 2))
        h, w = arr.shape[:2]
        img = QImage(arr.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        return img.scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation)
    from PIL import Image, ImageOps

    from core.io.images import ImageLoadError, check_size, read_image_bytes, to_rgb

    path = Path(source)
    try:
        data = read_image_bytes(path)  # regular files within the byte budget only: a FIFO would block open()
        with Image.open(io.BytesIO(data)) as im:
            check_size(str(path), *im.size)  # the same pixel limit as training, before decoding
            # JPEG decodes straight at 1/2, 1/4 or 1/8 scale: most of the speed for big photos.
            im.draft("RGB", (size * 2, size * 2))
            im.seek(0)
            im.load()
            rgb = to_rgb(ImageOps.exif_transpose(im) if hasattr(im, "getexif") else im)
    except ImageLoadError:
        raise
    except Exception as exc:  # Pillow raises many types on bad files; the reason goes into the tooltip
        raise ImageLoadError(str(path), f"{type(exc).__name__}: {exc}") from None
    rgb.thumbnail((size, size))
    data = rgb.tobytes()
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format_RGB888).copy()


def _placeholder(size: int, colour: str, mark: str = "") -> QPixmap:
    pix = QPixmap(size, size)
    pix.fill(QColor(colour))
    if mark:
        p = QPainter(pix)
        p.setPen(QColor("#a33"))
        font = p.font()
        font.setPixelSize(size // 3)
        p.setFont(font)
        p.drawText(pix.rect(), Qt.AlignCenter, mark)
        p.end()
    return pix


class ThumbnailModel(QAbstractListModel):
    thumbnail_ready = Signal(str)  # key

    def __init__(self, parent=None, thumb_size: int = THUMB_SIZE, cache_size: int = 1500, threads: int | None = None,
                 max_pending: int = 400, disk_cache: DiskCache | None = None):
        super().__init__(parent)
        self.thumb_size = thumb_size
        self.disk_cache = disk_cache
        self.show_labels = False  # class name under each thumbnail (when several classes are shown)
        # Decoding holds the GIL part of the time: leave one core to the window.
        threads = threads or max(1, min(4, (os.cpu_count() or 2) - 1))
        # Drainer jobs take requests from one shared stack until it is empty (so a few serve thousands of
        # rows); a new item list is a new generation of the task, and a stale drainer stops at once.
        self._loader = BackgroundTask(self, threads=threads, imports=("PIL.Image", "PIL.ImageOps", "core.io.images"))
        self._loader.partial.connect(self._on_partial)
        self._items: list[ThumbItem] = []
        self._row_of: dict[str, int] = {}
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._cache_size = cache_size
        self._failed: dict[str, str] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._requests: deque = deque(maxlen=max_pending)  # the oldest (scrolled away) requests fall off
        self._drainers = 0  # drainer jobs of the current generation that are still running
        self._threads = threads
        self._closed = False  # after shutdown(): no new work (a late repaint must not start a thread)
        self._loading_pix = _placeholder(thumb_size, "#dcdcdc")
        self._broken_pix = _placeholder(thumb_size, "#f3d6d4", "✕")

    # --- contents ---
    def set_items(self, items: list[ThumbItem]) -> None:
        self.beginResetModel()
        with self._lock:
            self._loader.cancel()  # drainers of the old list stop, and what they still make is dropped
            self._requests.clear()
            self._drainers = 0
        self._pending.clear()
        self._failed.clear()  # a file fixed since is tried again (a failure costs little to find again)
        self._items = list(items)
        self._row_of = {item.key: i for i, item in enumerate(self._items)}
        self.endResetModel()

    def items(self) -> list[ThumbItem]:
        return list(self._items)

    def cached(self, key: str) -> bool:
        return key in self._cache

    def failure(self, key: str) -> str | None:
        return self._failed.get(key)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        if not index.isValid() or index.row() >= len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.DecorationRole:
            return self._pixmap(item)
        if role == Qt.DisplayRole and self.show_labels:
            return item.label
        if role == Qt.ToolTipRole:
            name = Path(item.key).name if isinstance(item.source, Path) else item.key
            tip = f"{name}\nclass: {item.label}" + (f"\n{item.detail}" if item.detail else "")
            if isinstance(item.source, Path):
                tip += "\ndouble-click: inspect it with the current model"
            if item.key in self._failed:
                tip += f"\ncannot be read: {self._failed[item.key]}"
            return tip
        if role == PathRole:
            return str(item.source) if isinstance(item.source, Path) else None
        if role == ClassRole:
            return item.label
        return None

    # --- lazy loading ---
    def _drain(self, context: TaskContext) -> None:
        """On a worker thread: make thumbnails for the requests, newest first, until there are none."""
        while True:
            with self._lock:
                if context.cancelled():
                    return  # set_items() reset the count already
                if not self._requests:
                    self._drainers -= 1
                    return
                item = self._requests.pop()  # newest first: what is on screen now
            try:
                context.deliver((item.key, self._thumbnail(item), None))
            except Exception as exc:  # unreadable: the reason goes into the tooltip
                context.deliver((item.key, None, getattr(exc, "reason", str(exc))))

    def _thumbnail(self, item: ThumbItem) -> QImage:
        """On a worker thread: from the disk cache, else decoded (and then stored there)."""
        on_disk = self.disk_cache is not None and isinstance(item.source, Path)
        if on_disk:
            image = self.disk_cache.load(item.source, self.thumb_size)
            if image is not None:
                return image
        image = make_thumbnail(item.source, self.thumb_size)
        if on_disk:
            self.disk_cache.store(item.source, self.thumb_size, image)
        return image

    def _pixmap(self, item: ThumbItem) -> QPixmap:
        pix = self._cache.get(item.key)
        if pix is not None:
            self._cache.move_to_end(item.key)
            return pix
        if item.key in self._failed:
            return self._broken_pix
        if item.key not in self._pending and not self._closed:
            self._pending.add(item.key)
            with self._lock:
                if len(self._requests) == self._requests.maxlen:
                    # the oldest request (long scrolled away) is dropped; ask again if it comes back
                    self._pending.discard(self._requests.popleft().key)
                self._requests.append(item)
                start = self._drainers < self._threads
                if start:
                    self._drainers += 1
            if start:
                self._loader.add(self._drain)
        return self._loading_pix

    @Slot(object)
    def _on_partial(self, value: tuple) -> None:
        key, image, reason = value
        self._pending.discard(key)
        if image is None:
            self._failed[key] = reason
        else:
            self._cache[key] = QPixmap.fromImage(image)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        self._changed(key)

    def _changed(self, key: str) -> None:
        row = self._row_of.get(key)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.DecorationRole, Qt.ToolTipRole])
        self.thumbnail_ready.emit(key)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        self._closed = True
        with self._lock:
            self._requests.clear()
            self._drainers = 0
        return self._loader.shutdown(timeout_ms)
