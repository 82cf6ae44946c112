"""How the main window takes in the inspector: the "Inspect" tab, File > Open Image… (Ctrl+I) and Edit >
Paste Image (Ctrl+V). Kept here so the window stays a composition of one-liners; what a drop holds is
decided by gui/drop_router.py.

    self.inspector, actions = install_inspector(self)   # in MainWindow.__init__, after the menus
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from gui.inspector.panel import InspectorPanel


def install_inspector(window) -> tuple[InspectorPanel, list[QAction]]:
    """The Inspect tab and its menu actions (returned, for the window's shortcut list)."""
    panel = InspectorPanel(window.hub, window)
    window.tabs.addTab(panel, "Inspect")
    panel.message.connect(window.log.append)
    panel.openCheckpointRequested.connect(window.choose_checkpoint)
    panel.dataset_provider = lambda: str(window.run_settings.get("dataset") or "")  # for "Add to dataset…"

    open_image = QAction("Open &Image…", window)
    open_image.setShortcut(QKeySequence("Ctrl+I"))
    open_image.triggered.connect(lambda: (window.tabs.setCurrentWidget(panel), panel.open_image_dialog()))
    window.file_groups.add("open", open_image)  # under Open Checkpoint…
    edit_menu = window.menus.get("edit")
    if edit_menu is None:
        edit_menu = window.menus["edit"] = _add_edit_menu(window)
    paste = QAction("&Paste Image", window)
    # Ctrl+V: a focused text field still gets its own paste (it claims the key first).
    paste.setShortcut(QKeySequence(QKeySequence.StandardKey.Paste))
    paste.triggered.connect(lambda: window.tabs.setCurrentWidget(panel) if panel.paste() else None)
    edit_menu.addAction(paste)

    # Until torch has loaded no model can exist: drops wait.
    panel.set_engine_ready(window.engine_loaded())
    window.engineReady.connect(lambda: panel.set_engine_ready(True))
    return panel, [open_image, paste]


def _add_edit_menu(window):
    """An Edit menu placed after File (the window builds File, Training, View, Help)."""
    bar = window.menuBar()
    actions = bar.actions()
    from PySide6.QtWidgets import QMenu

    menu = QMenu("&Edit", window)
    bar.insertMenu(actions[1] if len(actions) > 1 else None, menu)
    return menu
