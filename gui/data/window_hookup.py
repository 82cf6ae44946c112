"""How the main window takes in the Data tab; kept here so the window stays a composition.

    self.data_view, self.open_dataset_action = install_data_tab(self, self.run_settings)  # after the menus
    paths = route_dataset_folders(self, paths)                   # first thing in MainWindow.route_drop

The Data tab owns the run's dataset, image size, validation share and augmentation (in the window's
RunSettingsModel); the other tabs show them from there.
"""
from __future__ import annotations

from pathlib import Path

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
    file_menu = window.menus["file"]
    actions = file_menu.actions()
    file_menu.insertAction(actions[2] if len(actions) > 2 else None, action)  # after Open Checkpoint / Open Image
    data_view.set_engine_ready(window.engine_loaded())
    window.engineReady.connect(lambda: data_view.set_engine_ready(True))
    inspector = getattr(window, "inspector", None)
    if inspector is not None:  # double-clicked thumbnails go to the Inspect tab
        data_view.browser.inspect_requested.connect(
            lambda paths: (window.tabs.setCurrentWidget(inspector), inspector.open_paths(paths)))
    return data_view, action


def looks_like_dataset(path: str | Path) -> bool:
    """A folder with at least one sub-folder (class folders, or train/ and val/)."""
    path = Path(path)
    try:
        return path.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())
    except OSError:
        return False


def route_dataset_folders(window, paths: list[str]) -> list[str]:
    """A dropped dataset folder opens in the Data tab (the last one, if several); returns the other paths."""
    folders = [p for p in paths if looks_like_dataset(p)]
    if folders:
        window.tabs.setCurrentWidget(window.data_view)
        window.data_view.open_dataset(folders[-1])
        window.log.append("info", f"Opened dataset {folders[-1]}")
    return [p for p in paths if p not in folders]
