"""How the main window takes in the Runs tab; kept here so the window stays a composition.

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
from gui.run_settings_model import values_from_config
from gui.runs.tab import RunsTab

ADDED_KEY = "runs/added_folders"  # folders added with Open Run Folder / monitor / a drop, remembered


def install_runs_tab(window) -> tuple[RunsTab, QAction]:
    """The Runs tab (last), File > Open Run Folder…, and the tab's requests wired to the window. Returns the
    tab and the action for the window to keep (this module sets nothing on the window)."""
    from gui.settings import default_runs_root

    tab = RunsTab(window.runs_root if window.runs_root is not None else default_runs_root(), window)
    window.tabs.addTab(tab, "Runs")
    action = QAction("Open &Run Folder…", window)
    action.setToolTip("Add a run folder (or a folder of runs) to the Runs tab and follow it live")
    action.triggered.connect(lambda: choose_run_folder(window, tab))
    menu = window.menus["file"]
    actions = menu.actions()
    separators = [a for a in actions if a.isSeparator()]
    menu.insertAction(separators[-1] if separators else None, action)  # above Quit
    tab.message.connect(window.log.append)
    tab.openCheckpointRequested.connect(lambda path: open_in_inspector(window, path))
    tab.trainAgainRequested.connect(lambda config: fill_form(window, config))
    tab.resumeRequested.connect(lambda run, config, checkpoint: resume_run(window, run, config, checkpoint))
    tab.followRequested.connect(window.follow_run)
    window.engineReady.connect(lambda: window.controller.runStarted.connect(lambda _: tab.refresh()))
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


def _may_become_a_run(path: Path) -> bool:
    """A folder the Train tab can follow: a run folder, or one a run is about to write (not there yet, or
    empty: `layerscope --follow DIR` started before `layerscope train --out DIR`). A folder of runs is not."""
    if not path.exists():
        return True
    try:
        return path.is_dir() and (is_run_folder(path) or next(path.iterdir(), None) is None)
    except OSError:
        return False


def follow_folders(window, folders: list[str]) -> None:
    """`layerscope monitor DIR...` / `--follow DIR` / a drop: add the folders to the Runs tab; one run folder
    (or one a run is about to write) is also followed live in the Train tab (plots, progress, log), several
    are shown in the Runs tab."""
    added = window.runs_tab.add_folders(folders)
    window.tabs.setCurrentWidget(window.runs_tab)
    followed = len(folders) == 1 and _may_become_a_run(Path(folders[0])) and window.follow_run(folders[0])
    missing = [f for f in folders if not Path(f).is_dir()]
    for folder in missing:
        if followed:
            window.log.append("info", f"{folder}: no such folder yet; the Train tab shows its run once it starts")
        else:
            window.log.append("warning", f"{folder}: no such folder; its row says so until it appears")
    if not added and not missing and not followed:
        window.log.append("warning", f"No run folders found in {', '.join(folders)}")


def choose_run_folder(window, tab: RunsTab) -> None:
    start = window.app_settings.value("paths/run_folder", str(Path.home()))
    folder = QFileDialog.getExistingDirectory(window, "Open run folder", start)
    if folder:
        window.app_settings.set_value("paths/run_folder", str(Path(folder).parent))
        follow_folders(window, [folder])


def route_run_folders(window, paths: list[str]) -> list[str]:
    """Dropped run folders go to the Runs tab; returns the other paths for the rest of the drop router."""
    runs = [p for p in paths if Path(p).is_dir() and is_run_folder(Path(p))]
    if runs:
        follow_folders(window, runs)
    return [p for p in paths if p not in runs]


def open_in_inspector(window, checkpoint: str) -> None:
    window.open_checkpoint(checkpoint)
    inspector = getattr(window, "inspector", None)
    if inspector is not None and window.tabs.indexOf(inspector) >= 0:
        window.tabs.setCurrentWidget(inspector)


def fill_form(window, config: dict) -> None:
    window.train_tab.stop_following()  # the form shows the user's settings again, now these
    window.panel.set_values(values_from_config(config))  # the run's settings model: unusable values are skipped
    window.tabs.setCurrentIndex(0)  # the Train tab
    window.log.append("info", "The training form now holds that run's settings; press Train to run them again")


def resume_run(window, run: str, config: dict, checkpoint: str) -> None:
    """Continue a stopped run in its own folder: its records go on in the same metrics.jsonl."""
    if not window.engine_loaded() or window.controller.is_active():
        window.log.append("warning", "Cannot resume now: wait for PyTorch to load and for the current run to end")
        return
    from core.training.session import RunSettings

    window.start_run(RunSettings.from_dict(config), resume=checkpoint, run_dir=run)
