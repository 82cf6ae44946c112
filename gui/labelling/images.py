"""Pool photos as QImages, decoded through core's one safe loader (off the GUI thread for decode-ahead)."""
from __future__ import annotations

from PySide6.QtGui import QImage


def load_qimage(path, max_side: int = 720) -> QImage:
    """The photo as a QImage at most `max_side` on its longer side; an unreadable one is a null QImage."""
    from core.io.images import ImageLoadError, load_image

    try:
        image = load_image(path)
    except ImageLoadError:
        return QImage()
    image.thumbnail((max_side, max_side))
    data = image.tobytes("raw", "RGB")
    return QImage(data, image.width, image.height, 3 * image.width, QImage.Format.Format_RGB888).copy()
