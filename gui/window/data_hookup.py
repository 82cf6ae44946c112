"""How the main window takes in the Data tab; kept here so the window stays a composition.

    self.data_view, self.open_dataset_action = install_data_tab(self, self.run_settings)  # after the menus

The Data tab owns the run's dataset, image size, validation share and augmentation (in the window's
RunSettingsModel); the other tabs show them from there.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from gui.data.data_view import DataView


def install_data_tab(window, settings) -> tuple[DataView, QAction]:
    """The Data tab (after Train) and File > Open Dataset… (Ctrl+D)."""
    data_view = DataView(settings, window)
    window.tabs.insertTab(1, data_view, "Data")
    action = QAction("Open &Dataset…", window)
    action.setShortcut(QKeySequence("Ctrl+D"))
    action.setToolTip("Open a folder of images, one sub-folder per class, as the dataset")
    action.triggered.connect(lambda: (window.tabs.setCurrentWidget(data_view), data_view.choose_folder()))
    window.file_groups.add("open", action)  # after Open Checkpoint / Open Image
    data_view.set_engine_ready(window.engine_loaded())
    window.engineReady.connect(lambda: data_view.set_engine_ready(True))
    return data_view, action
