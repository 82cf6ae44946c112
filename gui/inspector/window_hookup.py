"""How the main window takes in the inspector: the "Inspect" tab, File > Open Image… (Ctrl+I), Edit > Paste
Image (Ctrl+V), and where dropped things go. Kept here so the window stays a composition of one-liners.

    self.inspector = install_inspector(self)        # in MainWindow.__init__, after the menus
    route_items(self, items)                        # in MainWindow.route_drop
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence

from gui.inspector.clipboard import sources_from_mime
from gui.inspector.panel import InspectorPanel
from gui.inspector.sources import is_url

CHECKPOINT_SUFFIXES = (".pt", ".pth")


def install_inspector(window) -> InspectorPanel:
    panel = InspectorPanel(window.hub, window)
    window.tabs.addTab(panel, "Inspect")
    panel.message.connect(window.log.append)
    panel.trainRequested.connect(lambda: window.tabs.setCurrentIndex(0))  # the Train tab
    panel.openCheckpointRequested.connect(window.choose_checkpoint)

    file_menu = window.menus["file"]
    open_image = QAction("Open &Image…", window)
    open_image.setShortcut(QKeySequence("Ctrl+I"))
    open_image.triggered.connect(lambda: (show_inspector(window), panel.open_image_dialog()))
    first = file_menu.actions()[1] if len(file_menu.actions()) > 1 else None
    file_menu.insertAction(first, open_image)  # right under Open Checkpoint…
    edit_menu = window.menus.get("edit")
    if edit_menu is None:
        edit_menu = window.menus["edit"] = _add_edit_menu(window)
    paste = QAction("&Paste Image", window)
    # Ctrl+V: a focused text field still gets its own paste (it claims the key first).
    paste.setShortcut(QKeySequence(QKeySequence.StandardKey.Paste))
    paste.triggered.connect(lambda: show_inspector(window) if panel.paste() else None)
    edit_menu.addAction(paste)
    window.open_image_action, window.paste_image_action = open_image, paste

    # Until torch has loaded no model can exist: drops wait, then images from the command line are routed
    # once the checkpoint given with them has been opened (the window opens it right after engineReady).
    panel.set_engine_ready(window.engine_loaded())
    window.engineReady.connect(lambda: panel.set_engine_ready(True))
    window.engineReady.connect(lambda: QTimer.singleShot(0, lambda: _route_pending_images(window)))
    return panel


def _add_edit_menu(window):
    """An Edit menu placed after File (the window builds File, Training, View, Help)."""
    bar = window.menuBar()
    actions = bar.actions()
    from PySide6.QtWidgets import QMenu

    menu = QMenu("&Edit", window)
    bar.insertMenu(actions[1] if len(actions) > 1 else None, menu)
    return menu


def show_inspector(window) -> None:
    window.tabs.setCurrentWidget(window.inspector)


def _route_pending_images(window) -> None:
    items, window.pending_images = list(window.pending_images), []
    if items:
        route_items(window, items)


def accepts_drop(mime) -> bool:
    """File or web URLs, or image data itself (some programs drag pixels without a file)."""
    return mime.hasUrls() or mime.hasImage()


def route_image_data(window, mime) -> bool:
    """Image data dropped without a URL goes to the inspector; False when the drop holds no usable image."""
    sources = sources_from_mime(mime, "dropped image") if mime.hasImage() else []
    if not sources:
        return False
    show_inspector(window)
    window.inspector.open_sources(sources)
    return True


def route_items(window, items: list[str]) -> None:
    """Dropped (or given) paths and URLs: checkpoints open into the hub first, folders get a message (the
    window's Data tab takes dataset folders before this), everything else (images, URLs, and any other file, which then gets a clear "not an image") goes
    to the inspector, whose tab comes to the front."""
    checkpoints, folders, images = [], [], []
    for item in items:
        if is_url(item):
            images.append(item)
        elif Path(item).is_dir():
            folders.append(item)
        elif Path(item).suffix.lower() in CHECKPOINT_SUFFIXES:
            checkpoints.append(item)
        else:
            images.append(item)
    for path in checkpoints[-1:]:  # several checkpoints at once: the last one wins
        window.open_checkpoint(path)
    for path in checkpoints[:-1]:
        window.log.append("warning", f"Dropped several checkpoints; opened only {checkpoints[-1]} (not {path})")
    for path in folders:
        # Dataset folders were taken by the Data tab before this; what is left has no class sub-folders.
        text = (f"Dropped folder {path}: it has no class sub-folders to train on; to classify its images, "
                "drop the image files themselves")
        window.log.append("info", text)
        window.statusBar().showMessage(text, 8000)
    if images:
        show_inspector(window)
        window.inspector.open_paths(images)
