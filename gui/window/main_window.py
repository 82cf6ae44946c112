"""The main window: composition only. It builds the tabs (one install function per tab, gui/window/*_hookup.py),
the docks, the menus and the actions, routes drops, and has gui/window/wiring.py connect the tabs to each other;
the tabs do the work (the Train tab owns the training controller: gui/training/tab.py).

Extension points for other panels (a few lines each):
    window.tabs.addTab(widget, "Inspect")            # a central tab
    window.addDockWidget(area, dock)                 # a dock
    window.menus["view"].addAction(...)              # menus: file, training, view, help
    window.file_groups.add("open", action)           # File, in its groups: open, recent, save, quit
    window.log.append("warning", "text")             # the log panel
    window.hub                                       # the current model (ModelHub)
    window.route_drop(paths)                         # where dropped files go
Nothing here imports torch: the engine loads after the window shows (see `load_engine`). No file I/O and no
mime parsing either: gui/checkpoint_service.py opens and saves checkpoints off the GUI thread, and
gui/drop_router.py decides what a drop holds.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QFileDialog, QMainWindow, QMessageBox, QTabWidget, QWidget

from gui.checkpoint_service import CheckpointService
from gui.drop_router import accepts_drop, paths_from_mime, plan_drop
from gui.log_panel import LogPanel, PanelLogHandler
from gui.model_hub import ModelHub
from gui.model_view import ModelView
from gui.run_settings_model import RunSettingsModel, recall, remember
from gui.settings import AppSettings
from gui.torch_loader import TorchLoader
from gui.window import wiring
from gui.window.data_hookup import install_data_tab
from gui.window.datamap_hookup import install_datamap
from gui.window.dossier_hookup import install_dossier
from gui.window.evaluate_hookup import install_evaluate_tab
from gui.window.help_hookup import install_help, install_tab_shortcuts
from gui.window.inspector_hookup import install_inspector
from gui.window.labelling_hookup import install_labelling_tab
from gui.window.menu_groups import MenuGroups
from gui.window.recent import RecentMenu
from gui.window.runs_hookup import install_runs_tab, route_run_folders
from gui.window.training_hookup import install_training_tab

APP_NAME = "Layerscope"


def _train_part(name: str) -> property:
    """window.<name> is the Train tab's part of that name (read-only; kept for the other tabs and the tests)."""
    return property(lambda window: getattr(window.train_tab, name), doc=f"The Train tab's {name}.")


class MainWindow(QMainWindow):
    engineReady = Signal()
    imagesDropped = Signal(list)  # image files and URLs dropped on the window (they open in Inspect)
    controller = _train_part("controller")  # the TrainingController (runs start once the engine has loaded)
    panel, progress, plots = _train_part("panel"), _train_part("progress"), _train_part("plots")
    rank_strip, record_view, train_exports = _train_part("rank_strip"), _train_part("record_view"), _train_part("train_exports")

    def __init__(self, runs_root: str | Path | None = None, settings: AppSettings | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(APP_NAME)
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.resize(1200, 780)
        self.app_settings = settings if settings is not None else AppSettings()
        self.runs_root = runs_root
        self.hub = ModelHub(self)
        self.pending_images: list[str] = []  # images given on the command line, for the inspector
        self.last_message_box: QMessageBox | None = None
        self.menus: dict = {}
        self._terminating = False  # SIGTERM / SIGINT: closing without a question (gui/window/termination.py)
        self._closed = False  # everything shut down: a later close event has nothing left to do
        self.checkpoints = CheckpointService(self.hub, self)  # opens and saves off the GUI thread

        # One settings model for the next run; each tab edits the values it owns and shows the others.
        self.run_settings = RunSettingsModel(parent=self)
        recall(self.app_settings, self.run_settings)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)

        self.log = LogPanel()
        self.log_handler = PanelLogHandler(self.log).attach()  # tracebacks of internal errors land in the log
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("logDock")
        self.log_dock.setWidget(self.log)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)

        self._build_menus()
        # "Train" = the form (+ progress) beside the live plots, and the training controller (gui/training/tab.py).
        self.train_tab = install_training_tab(self, self.run_settings)
        self.checkpoints.message.connect(self.log.append)
        self.checkpoints.failed.connect(lambda title, text: self.show_message(QMessageBox.Icon.Warning, title, text))
        self.checkpoints.opened.connect(self._remember_checkpoint_dir)
        self.checkpoints.saved.connect(self._remember_checkpoint_dir)
        self.hub.checkpointChanged.connect(self._on_checkpoint_changed)
        self.inspector, inspector_actions = install_inspector(self)  # the Inspect tab, Open Image / Paste Image
        self.open_image_action, self.paste_image_action = inspector_actions
        self.data_view, self.open_dataset_action = install_data_tab(self, self.run_settings)  # + Open Dataset
        self.dossier = install_dossier(self)  # the Dossier tab: channels, layer health, probes of a run
        self.datamap = install_datamap(self)  # the Map tab: a run's images as points, replayed over epochs
        self.model_view = ModelView(self.run_settings, self)
        self.tabs.insertTab(2, self.model_view, "Model")
        self.model_view.set_engine_ready(self.engine_loaded())
        self.engineReady.connect(lambda: self.model_view.set_engine_ready(True))
        self.runs_tab, self.open_run_folder_action = install_runs_tab(self)  # the Runs tab, Open Run Folder
        self.evaluate_tab, self.export_model_action = install_evaluate_tab(self)  # the Evaluate tab, Export Model
        self.labelling_tab = install_labelling_tab(self)  # the Label tab: the labelling queue, the data-size curve
        self.tab_set = wiring.Tabs(self.train_tab, self.data_view, self.model_view, self.inspector, self.dossier,
                                   self.runs_tab, self.evaluate_tab, self.tabs.setCurrentWidget, self.log.append,
                                   self.datamap)
        wiring.wire_tabs(self.tab_set, self.open_checkpoint, self,
                         lambda: remember(self.app_settings, self.run_settings))  # every tab-to-tab connection
        wiring.opened_checkpoint_shows_its_run(self.checkpoints.opened, self.train_tab, self.log.append)
        wiring.a_dropped_image_is_marked_on_the_map(self.imagesDropped, self.datamap, self.tabs.setCurrentWidget)
        self._remember_recent()
        self.tab_actions = install_tab_shortcuts(self)  # Ctrl+1 … Ctrl+9: the tabs, in order
        self.guide_action, self.shortcuts_action = install_help(self)  # Help > User Guide (F1), shortcuts

        self.torch_loader = TorchLoader(self)
        self.torch_loader.loaded.connect(self._on_engine_loaded)
        self.torch_loader.failed.connect(self._on_engine_failed)
        self.app_settings.restore_window(self)
        self.statusBar().showMessage("Loading PyTorch…")

    # ---- menus ---------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = self.menus["file"] = bar.addMenu("&File")
        # Open…, Recent, Save / Export…, Quit last, whichever tab adds its action when (gui/window/menu_groups.py).
        self.file_groups = MenuGroups(file_menu, ("open", "recent", "save", "quit"))
        self.open_action = self.file_groups.add("open", self._action("&Open Checkpoint…", QKeySequence.StandardKey.Open,
                                                                     self.choose_checkpoint))
        self.recent = RecentMenu(self.app_settings, self)
        self.file_groups.add_menu("recent", self.recent)
        self.save_action = self.file_groups.add("save", self._action("&Save Checkpoint As…", QKeySequence.StandardKey.Save,
                                                                     self.choose_save_path))
        self.save_action.setEnabled(False)
        # Ctrl+Q itself: StandardKey.Quit is empty where the platform names none (Windows, no desktop theme).
        self.quit_action = self.file_groups.add("quit", self._action("&Quit", "Ctrl+Q", self.close))
        self.menus["training"] = bar.addMenu("&Training")  # filled by install_training_tab
        view = self.menus["view"] = bar.addMenu("&View")
        view.addAction(self.log_dock.toggleViewAction())
        self.menus["help"] = bar.addMenu("&Help")  # filled by install_help

    def _action(self, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _remember_recent(self) -> None:
        """File > Open Recent: what was opened (a checkpoint, a run folder, a folder dataset), opened again the
        same way when chosen."""
        self.checkpoints.opened.connect(lambda path: self.recent.add("checkpoint", path))
        self.run_settings.changed.connect(
            lambda key, value: key == "dataset" and _is_folder_name(value) and self.recent.add("dataset", str(value)))
        self.recent.chosen.connect(self._open_recent)

    def _open_recent(self, kind: str, path: str) -> None:
        if kind != "dataset" and not Path(path).exists():
            self.show_message(QMessageBox.Icon.Warning, "Open Recent", f"{path} is no longer there.")
        elif kind == "checkpoint":
            self.open_checkpoint(path)
        elif kind == "run":
            self.follow_folders([path])
        else:
            self.tabs.setCurrentWidget(self.data_view)
            self.data_view.open_dataset(path)

    # ---- the engine ----------------------------------------------------------------------------------
    def load_engine(self, blocking: bool = False) -> None:
        """Import torch and core off the GUI thread (or at once, with blocking=True); Train enables when done."""
        if blocking:
            self._on_engine_loaded(self.torch_loader.load_now())
        else:
            self.torch_loader.start()

    def engine_loaded(self) -> bool:
        return self.train_tab.engine_ready

    @Slot(dict)
    def _on_engine_loaded(self, info: dict) -> None:
        if self.engine_loaded():
            return
        self.train_tab.set_engine_ready()  # Train enables
        self.statusBar().showMessage(f"Ready (PyTorch loaded in {info.get('seconds', 0):.1f} s)", 5000)
        self.engineReady.emit()
        self.checkpoints.set_engine_ready(True)  # opens a checkpoint given before now
        if self.pending_images:  # images from the command line: inspected once a model is there
            QTimer.singleShot(0, self._route_pending_images)

    def _route_pending_images(self) -> None:
        items, self.pending_images = list(self.pending_images), []
        if items:
            self.route_drop(items)

    @Slot(str)
    def _on_engine_failed(self, details: str) -> None:
        self.statusBar().showMessage("PyTorch could not be loaded")
        self.log.append("error", f"PyTorch could not be loaded; training is unavailable:\n{details}")
        self.show_message(QMessageBox.Icon.Critical, "PyTorch could not be loaded",
                          "Training and inspection need PyTorch, which failed to load:\n\n" + details.split("\n\n")[0])

    # ---- training (the Train tab does it; these are what the other tabs and the drop router call) -----
    def start_training(self) -> None:
        self.train_tab.start_training()

    def start_run(self, settings, resume: str | None = None, run_dir: str | None = None,
                  finetune_from: str | None = None) -> bool:
        """Start (or resume, or fine-tune) a run shown in the Train tab; False when one is active."""
        return self.train_tab.start_run(settings, resume=resume, run_dir=run_dir, finetune_from=finetune_from)

    def shown_run_dir(self) -> Path | None:
        return self.train_tab.shown_run_dir()

    def follow_run(self, folder: str) -> bool:
        """Drive the Train tab's plots, progress and log from a run folder another process writes."""
        return self.train_tab.follow_run(folder)

    def follow_folders(self, folders: list[str]) -> None:
        """Run folders (--follow, a drop, Open Run Folder) join the Runs tab; one is followed in the Train tab."""
        wiring.follow_folders(self.tab_set, folders)
        for folder in folders:
            self.recent.add("run", folder)

    def toggle_pause(self) -> None:
        self.train_tab.toggle_pause()

    def stop_training(self) -> None:
        self.train_tab.stop()

    @property
    def ask_close_job(self):
        """Asks what to do with a job still running at close (replaceable in tests)."""
        return self.train_tab.ask_close_job

    @ask_close_job.setter
    def ask_close_job(self, ask) -> None:
        self.train_tab.ask_close_job = ask

    # ---- checkpoints ---------------------------------------------------------------------------------
    def choose_checkpoint(self) -> None:
        start = self.app_settings.value("paths/checkpoint_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", start, "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.open_checkpoint(path)

    def open_checkpoint(self, path: str) -> None:
        """Open a .pt into the hub, off the GUI thread; a bad file gets a clear dialog and a log line. Before
        the engine has loaded, the file is remembered and opened as soon as it has."""
        self.checkpoints.open(path)

    @Slot(str)
    def _remember_checkpoint_dir(self, path: str) -> None:
        self.app_settings.set_value("paths/checkpoint_dir", str(Path(path).parent))

    def choose_save_path(self) -> None:
        start = self.app_settings.value("paths/checkpoint_dir", str(Path.home()))
        path, _ = QFileDialog.getSaveFileName(self, "Save checkpoint as", str(Path(start) / "model.pt"),
                                              "Checkpoints (*.pt)")
        if path:
            self.save_checkpoint_as(path)

    def save_checkpoint_as(self, path: str) -> None:
        """Write the current model off the GUI thread (the run's resumable last.pt when it is the run's)."""
        self.checkpoints.save(path, self.train_tab.last_run_dir())

    @Slot(object)
    def _on_checkpoint_changed(self, ckpt) -> None:
        self.save_action.setEnabled(ckpt is not None)

    # ---- drops ---------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if accepts_drop(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if accepts_drop(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        paths = paths_from_mime(mime)
        if paths:
            event.acceptProposedAction()
            self.route_drop(paths)
        elif mime.hasImage() and self.inspector.open_image_data(mime):  # pixels without a file
            event.acceptProposedAction()
            self.tabs.setCurrentWidget(self.inspector)

    def route_drop(self, paths: list[str]) -> None:
        """The one place dropped files (and http(s) URLs) go: a run folder -> the Runs tab, a dataset folder ->
        the Data tab, .pt -> the hub, images, a folder of plain images (and any other file, which then gets a clear
        "not an image") -> the Inspect tab."""
        paths = route_run_folders(self, paths)  # a run folder is followed in the Runs tab
        plan = plan_drop(paths)
        if plan.dataset_folder is not None:
            self.tabs.setCurrentWidget(self.data_view)
            self.data_view.open_dataset(plan.dataset_folder)
            self.log.append("info", f"Opened dataset {plan.dataset_folder}")
        if plan.checkpoint is not None:
            self.open_checkpoint(plan.checkpoint)
        for path in plan.other_checkpoints:
            self.log.append("warning", f"Dropped several checkpoints; opened only {plan.checkpoint} (not {path})")
        if plan.plain_folders:  # no class sub-folders: nothing to train on, its images are classified
            self.tabs.setCurrentWidget(self.inspector)
            self.inspector.open_folders(plan.plain_folders)
        if plan.images:
            self.imagesDropped.emit(list(plan.images))  # first: a listener sees which tab was in front
            self.tabs.setCurrentWidget(self.inspector)
            self.inspector.open_paths(plan.images)

    # ---- dialogs -------------------------------------------------------------------------------------
    def show_message(self, icon, title: str, text: str) -> QMessageBox:
        """A window-modal message that does not block the caller (kept in `last_message_box` for tests)."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_message_box = box
        return box

    # ---- closing -------------------------------------------------------------------------------------
    def terminate(self) -> None:
        """Close as for a logout (SIGTERM / SIGINT to the app): no question; this window's run stops after its
        batch and saves last.pt; then the app quits. A dialog open meanwhile (the close question too) is
        dismissed first."""
        self._terminating = True
        modal = QApplication.activeModalWidget()
        if modal is not None:
            modal.reject()  # its caller goes on once its loop returns; the window closes after it
            QTimer.singleShot(0, self._close_and_quit)
            return
        self._close_and_quit()

    def _close_and_quit(self) -> None:
        if not self._closed:
            self.close()
        QApplication.quit()

    def closeEvent(self, event) -> None:
        if self._closed:
            event.accept()
            return
        # A job runs on and the user cancelled, unless a signal asked the app to quit while they were asked.
        if not self._terminating and not self.train_tab.may_close(self) and not self._terminating:
            event.ignore()
            return
        if self._closed:  # closed meanwhile, by a signal that came while the question was open
            event.accept()
            return
        self._closed = True
        self.train_tab.shutdown()  # stops an active run, saving last.pt
        self.inspector.shutdown()
        self.checkpoints.shutdown()  # a save in progress finishes: never half a file
        self.runs_tab.shutdown()
        self.evaluate_tab.shutdown()
        self.labelling_tab.shutdown()
        self.data_view.shutdown()
        self.model_view.shutdown()
        self.app_settings.save_window(self)
        remember(self.app_settings, self.run_settings)
        self.log_handler.detach()
        super().closeEvent(event)


def _is_folder_name(value) -> bool:
    """A dataset value naming a folder (a path), not a built-in set ("shapes", "mnist"); no disk access."""
    text = str(value or "")
    return "/" in text or "\\" in text or text.startswith("~")
