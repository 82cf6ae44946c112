"""Images from the clipboard or any QMimeData: image data (a screenshot copied), file or web URLs, or
text that is a URL or an existing path."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData
from PySide6.QtGui import QImage

from gui.inspector.sources import ImageSource, is_url


def sources_from_mime(mime: QMimeData, image_label: str = "pasted image") -> list[ImageSource]:
    """Image data first (a screenshot copied to the clipboard), then file or web URLs, then text that is a
    URL or an existing path."""
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return [ImageSource.from_bytes(qimage_to_png(image), image_label)]
    if mime.hasUrls():
        items = [u.toLocalFile() if u.isLocalFile() else u.toString() for u in mime.urls()]
        return [ImageSource.from_url(i) if is_url(i) else ImageSource.from_path(i) for i in items if i]
    if mime.hasText():
        lines = [line.strip() for line in mime.text().splitlines() if line.strip()]
        if lines and all(is_url(line) or Path(line).exists() for line in lines):
            return [ImageSource.from_url(i) if is_url(i) else ImageSource.from_path(i) for i in lines]
    return []


def qimage_to_png(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())
