"""The Train tab: the form (+ progress, processes) beside the live plots, and the training controller behind them.

It owns its widgets, the controller (made once the engine has loaded), the record view that one code path feeds
from this window's run or from a followed run folder, and the close-with-a-job question. What the window must do
for it (a message box, the status bar, opening a checkpoint, showing this tab) it asks for with signals;
gui/window/training_hookup.py connects them.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QSplitter, QWidget

from core.runs import layout
from gui.run_settings_model import SettingsError
from gui.training.close_job import ask_about_running_job, close_with_job
from gui.training.export_actions import TrainExports
from gui.training.form import TrainingPanel
from gui.training.job_watch import RankWatch
from gui.training.live_follow import RunWatch
from gui.training.plots import TrainingPlots
from gui.training.progress import ProgressPanel
from gui.training.rank_strip import RankStrip
from gui.training.record_view import RecordView

STATE_TEXT = {"idle": "Ready", "running": "Training…", "paused": "Paused", "stopping": "Stopping…"}


class TrainTab(QSplitter):
    alert = Signal(object, str, str)  # QMessageBox.Icon, title, text: the window shows a message box
    statusMessage = Signal(str)  # for the window's status bar
    runRequested = Signal(object)  # valid RunSettings from Train: the window confirms (memory), then start_confirmed
    runStarted = Signal(str)  # the run folder
    checkpointReady = Signal(str)  # a finished multi-process job's last.pt, for the inspector
    showRequested = Signal()  # bring this tab to the front
    ownerRequested = Signal(str)  # "data" or "model": show the tab that owns a value shown here

    def __init__(self, run_settings, hub, log, runs_root=None, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.run_settings = run_settings
        self.hub = hub
        self.log = log
        self.runs_root = runs_root
        self.controller = None  # the TrainingController, made once the engine has loaded
        self.ask_close_job = ask_about_running_job  # replaceable in tests
        self.probe_images_provider = lambda: []  # the window points this at the Inspect tab's pinned probe
        self.panel = TrainingPanel(run_settings)
        self.progress = ProgressPanel()
        self.panel.progress_slot.addWidget(self.progress)
        self.rank_strip = RankStrip()  # a multi-process run's processes
        self.panel.progress_slot.addWidget(self.rank_strip)
        self.rank_watch = RankWatch(self)  # a followed folder's processes (a job left running, followed again)
        self.rank_watch.ranksChanged.connect(self.rank_strip.show_ranks)
        self.plots = TrainingPlots()
        self.addWidget(self.panel)
        self.addWidget(self.plots)
        self.setStretchFactor(1, 1)
        self.setSizes([320, 880])
        # Records drive the tab, from the app's own run or from a followed run folder (one code path).
        self.record_view = RecordView(self.plots, self.progress, log, self)
        self.run_watch = RunWatch(self)
        self.train_exports = TrainExports(self.plots, log, self)
        self.run_watch.recordsArrived.connect(self.record_view.show)
        self.run_watch.restarted.connect(self._on_follow_restarted)
        self.run_watch.settingsRead.connect(
            lambda config: self.panel.show_followed_settings(self._followed_name(), config)
            if self.run_watch.folder is not None else None)
        self.panel.stopFollowingRequested.connect(self.stop_following)
        self._followed: Path | None = None  # the run folder drawn here last by following, until a run starts here
        self.run_watch.statusChanged.connect(lambda _: self.progress.set_status(self.run_watch.status_text()))
        self.run_watch.statusChanged.connect(self._show_followed_state)
        self.run_watch.message.connect(log.append)
        self.panel.trainRequested.connect(self.start_training)
        self.panel.pauseToggled.connect(self.toggle_pause)
        self.panel.stopRequested.connect(self.stop)
        self.panel.ownerRequested.connect(self.ownerRequested)

    # ---- the engine ----------------------------------------------------------------------------------
    def set_engine_ready(self) -> None:
        """Make the controller (imports torch: call once the engine has loaded) and enable Train."""
        if self.controller is not None:
            return
        from gui.training.controller import TrainingController

        self.controller = TrainingController(self.hub, self.runs_root, self)
        self.controller.stateChanged.connect(self._on_state_changed)
        self.controller.message.connect(self.log.append)
        self.controller.runStarted.connect(self.runStarted)
        self.controller.recordsArrived.connect(self.record_view.show)
        self.controller.ranksChanged.connect(self.rank_strip.show_ranks)
        self.controller.runFinished.connect(self._on_run_finished)
        self.controller.runFailed.connect(self._on_run_failed)
        self.panel.set_engine_ready()
        self.log.append("info", f"Engine ready; runs are saved under {self.controller.runs_root}")

    def is_active(self) -> bool:
        return self.controller is not None and self.controller.is_active()

    # ---- runs ----------------------------------------------------------------------------------------
    @Slot()
    def start_training(self) -> None:
        """Train pressed: valid settings go out as runRequested (the window asks about memory first)."""
        if self.controller is None or self.controller.is_active():
            return
        try:
            settings = self.run_settings.build()
        except SettingsError as exc:
            self.log.append("error", str(exc))
            self.alert.emit(QMessageBox.Icon.Warning, "Cannot start training", str(exc))
            return
        probes = list(self.probe_images_provider())
        if probes:  # a probe pinned in the Inspect tab gets a timeline in this run (RUN/probes/)
            settings.train.probe_images = probes
            self.log.append("info", "Probe timeline for " + ", ".join(Path(p).name for p in probes)
                            + " (pinned in the Inspect tab)")
        self.runRequested.emit(settings)

    def start_confirmed(self, settings, ok: bool) -> None:
        if not ok:
            self.log.append("warning", "Run not started: the model would probably not fit in memory")
            return
        self.start_run(settings)

    def start_run(self, settings, resume: str | None = None, run_dir: str | None = None,
                  finetune_from: str | None = None) -> bool:
        """Start (or resume, in `run_dir`; or fine-tune from a checkpoint) a run shown here; False when one is
        active."""
        if self.controller is None or self.controller.is_active():
            return False
        self.stop_following(quiet=True)
        self._followed = None
        self.record_view.reset(own_run=True)
        self.showRequested.emit()
        self.rank_strip.clear()
        # A resume or a fine-tune runs here; a new run uses the form's Processes.
        nproc = self.run_settings.get("nproc") if resume is None and finetune_from is None else 1
        return self.controller.start(settings, resume=resume, run_dir=run_dir, finetune_from=finetune_from,
                                     nproc=nproc) is not None

    def shown_run_dir(self) -> Path | None:
        """The run this tab shows: the followed folder (also once following has stopped), else this window's
        last run."""
        if self._followed is not None:
            return self._followed
        return self.controller.run_dir if self.controller is not None else None

    def last_run_dir(self) -> Path | None:
        return self.controller.run_dir if self.controller is not None else None

    def show_settings(self, values: dict) -> None:
        """The form holds `values` (a run's settings, to run them again) and shows the user's fields again."""
        self.stop_following()
        self.panel.set_values(values)

    def follow_run(self, folder: str) -> bool:
        """Drive the plots, progress and log from a run folder another process writes."""
        if self.is_active():
            self.log.append("warning", f"Not following {folder} in the Train tab while a run of this window is active")
            return False
        self.record_view.reset(own_run=False)
        self.run_watch.follow(folder)
        self._followed = self.run_watch.folder
        self.panel.show_followed_settings(self._followed_name(), None)  # until its config.json is read
        self.rank_strip.clear()
        self.rank_watch.follow(Path(folder))
        self.showRequested.emit()
        self.log.append("info", f"Following {folder} in the Train tab")
        return True

    def _followed_name(self) -> str:
        folder = self.run_watch.folder
        return (folder.name or str(folder)) if folder is not None else ""  # "." has no name

    @Slot()
    def stop_following(self, quiet: bool = False) -> None:
        """Stop reading the followed folder (its plots stay) and show the user's own settings again."""
        if self.run_watch.folder is not None and not quiet:
            self.log.append("info", f"Stopped following {self.run_watch.folder}")
            self.progress.set_status("")
        self.run_watch.stop()
        self.rank_watch.stop()
        self.panel.show_own_settings()
        self.panel.set_state(self.controller.state if self.controller is not None else "idle")

    @Slot()
    def _on_follow_restarted(self) -> None:
        """The followed folder was made again (or its file replaced): a new run, drawn from its start."""
        self.record_view.reset(own_run=False)
        self.progress.set_status(self.run_watch.status_text())

    @Slot(str)
    def _show_followed_state(self, status: str) -> None:
        """A followed live run can be paused and stopped from here (through its control file)."""
        if self.run_watch.folder is not None and not self.is_active():
            self.panel.set_state({"paused": "paused", "running": "running", "evaluating": "running"}.get(status, "idle"))

    @Slot()
    def toggle_pause(self) -> None:
        if self.is_active():
            self.controller.toggle_pause()
        elif self.run_watch.controllable():
            pause = self.run_watch.status != "paused"
            self.run_watch.send(pause=pause)
            self.log.append("info", f"Asked {self._followed_name()} to {'pause' if pause else 'go on'} after its "
                                    f"current step (through its {layout.CONTROL})")

    @Slot()
    def stop(self) -> None:
        if self.is_active():
            self.controller.stop()
        elif self.run_watch.controllable():
            self.run_watch.send(pause=False, stop=True)
            self.panel.set_state("stopping")  # until its "stopped" record arrives
            self.log.append("info", f"Asked {self._followed_name()} to stop after its current step and save "
                                    f"{layout.LAST} (through its {layout.CONTROL})")

    @Slot(str)
    def _on_state_changed(self, state: str) -> None:
        self.panel.set_state(state)
        self.statusMessage.emit(STATE_TEXT[state])

    @Slot(dict)
    def _on_run_finished(self, summary: dict) -> None:
        self.progress.finish(completed=not summary.get("stopped"))
        if summary.get("checkpoint"):  # a multi-process job's last.pt: the inspector shows its weights
            self.checkpointReady.emit(summary["checkpoint"])

    @Slot(str)
    def _on_run_failed(self, message: str) -> None:
        self.progress.finish(completed=False)
        self.alert.emit(QMessageBox.Icon.Critical, "Training failed", message)

    # ---- closing -------------------------------------------------------------------------------------
    def may_close(self, parent: QWidget) -> bool:
        """False when a job runs on and the user cancels closing (asked with `ask_close_job`)."""
        if self.controller is not None and self.controller.job_running():
            return close_with_job(self.controller, self.ask_close_job(parent, self.controller.run_dir))
        return True

    def shutdown(self) -> None:
        """Stop an active run (saving last.pt) and the watchers; an export in progress finishes."""
        if self.is_active():
            self.log.append("info", f"Closing: stopping the run and saving {layout.LAST}…")
            self.statusMessage.emit("Stopping the run…")
            self.controller.shutdown()
        self.plots.timer.stop()
        self.run_watch.shutdown()
        self.rank_watch.shutdown()
        self.train_exports.task.shutdown()
