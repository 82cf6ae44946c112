"""Image data dragged without a file or URL (some editors and browsers drag pixels): the window takes it too."""
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from tests.gui.test_inspector_window import WAIT, loose, tiny_checkpoint, wait_detail  # noqa: F401 (fixture)


def send_drop(window, mime: QMimeData) -> tuple[bool, bool]:
    centre = QPointF(window.rect().center())
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    event = QDropEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    return enter.isAccepted(), event.isAccepted()


def test_dropped_image_data_is_inspected(qtbot, window, loose):
    window.hub.set_checkpoint(tiny_checkpoint(), "unit test")
    image = QImage(str(loose / "abeja.jpg"))
    assert not image.isNull()
    mime = QMimeData()
    mime.setImageData(image)
    assert send_drop(window, mime) == (True, True)
    assert window.tabs.currentWidget() is window.inspector
    detail = wait_detail(qtbot, window.inspector, "dropped image")
    assert detail.inspection.prediction and len(detail.inspection.layers) > 5
    assert window.inspector.shutdown(WAIT)


def test_a_drop_with_neither_urls_nor_an_image_is_refused(window):
    mime = QMimeData()
    mime.setText("just some words")
    assert send_drop(window, mime) == (False, False)
    assert window.tabs.currentWidget() is not window.inspector
