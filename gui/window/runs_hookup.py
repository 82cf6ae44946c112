"""How the main window takes in the Runs tab; kept here so the window stays a composition. Its connections to
other tabs (open a checkpoint in Inspect, train again, resume, follow in Train) are in gui/window/wiring.py.

    self.runs_tab, self.open_run_folder_action = install_runs_tab(self)   # in MainWindow.__init__, after the menus
    paths = route_run_folders(self, paths)          # first thing in MainWindow.route_drop
    self.runs_tab.shutdown()                        # in MainWindow.closeEvent
"""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from core.runs.index import is_run_folder
from core.runs.location import default_runs_root
from gui.runs.tab import RunsTab

ADDED_KEY = "runs/added_folders"  # folders added with Open Run Folder / monitor / a drop, remembered


def install_runs_tab(window) -> tuple[RunsTab, QAction]:
    """The Runs tab (last), File > Open Run Folder…, the tab's messages in the log and its added folders
    remembered. Returns the tab and the action for the window to keep (this module sets nothing on the window)."""
    tab = RunsTab(window.runs_root if window.runs_root is not None else default_runs_root(), window)
    window.tabs.addTab(tab, "Runs")
    action = QAction("Open &Run Folder…", window)
    action.setToolTip("Add a run folder (or a folder of runs) to the Runs tab and follow it live")
    action.triggered.connect(lambda: choose_run_folder(window))
    window.file_groups.add("open", action)
    tab.message.connect(window.log.append)
    remembered = _remembered_folders(window)
    if remembered:
        tab.index.added.extend(Path(f) for f in remembered)
    tab.foldersChanged.connect(lambda folders: window.app_settings.set_value(ADDED_KEY, json.dumps(folders)))
    QTimer.singleShot(0, tab.start)
    return tab, action


def _remembered_folders(window) -> list[str]:
    """The folders added in earlier sessions (a damaged setting is ignored)."""
    try:
        folders = json.loads(window.app_settings.value(ADDED_KEY, "[]") or "[]")
    except ValueError:
        return []
    return [f for f in folders if isinstance(f, str)] if isinstance(folders, list) else []


def choose_run_folder(window) -> None:
    start = window.app_settings.value("paths/run_folder", str(Path.home()))
    folder = QFileDialog.getExistingDirectory(window, "Open run folder", start)
    if folder:
        window.app_settings.set_value("paths/run_folder", str(Path(folder).parent))
        window.follow_folders([folder])


def route_run_folders(window, paths: list[str]) -> list[str]:
    """Dropped run folders go to the Runs tab; returns the other paths for the rest of the drop router."""
    runs = [p for p in paths if Path(p).is_dir() and is_run_folder(Path(p))]
    if runs:
        window.follow_folders(runs)
    return [p for p in paths if p not in runs]
