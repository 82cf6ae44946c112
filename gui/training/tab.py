"""The Train tab: the form (+ progress, processes) beside the live plots, and the training controller behind them.

It owns its widgets, the controller (one run handle: this window's run in its own process, or a run folder it
follows), the record view that one code path feeds from either, and the close-with-a-run question. What the
window must do for it (a message box, the status bar, showing this tab) it asks for with signals;
gui/window/training_hookup.py connects them. Runs start once the engine has loaded (`set_engine_ready`);
following a run folder needs no PyTorch.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QSplitter, QWidget

from core.runs import layout
from core.runs.reducer import FINISHED, INTERRUPTED, RESUMABLE, STOPPED
from gui.concurrent import BackgroundTask
from gui.run_settings_model import SettingsError
from gui.training.close_job import ask_about_running_job, close_with_job
from gui.training.compute_view import ComputePanel
from gui.training.controller import TrainingController
from gui.training.export_actions import TrainExports
from gui.training.form import TrainingPanel
from gui.training.lr_finder import LRFinderDialog, lr_text
from gui.training.sweep_dialog import SweepDialog
from gui.training.plots import TrainingPlots
from gui.training.progress import ProgressPanel
from gui.training.rank_strip import RankStrip
from gui.training.record_view import RecordView

ENDED = (FINISHED, STOPPED)  # core.runs.reducer's words for a run that ended well
STATE_TEXT = {"idle": "Ready", "starting": "Starting…", "running": "Training…", "paused": "Paused",
              "stopping": "Stopping…"}


class TrainTab(QSplitter):
    alert = Signal(object, str, str)  # QMessageBox.Icon, title, text: the window shows a message box
    statusMessage = Signal(str)  # for the window's status bar
    runRequested = Signal(object)  # valid RunSettings from Train: the window confirms (memory), then start_confirmed
    runStarted = Signal(str)  # the run folder
    runEnded = Signal(str)  # the folder of the run shown here, once it has finished or stopped (its RUN/eval)
    showRequested = Signal()  # bring this tab to the front
    ownerRequested = Signal(str)  # "data" or "model": show the tab that owns a value shown here

    def __init__(self, run_settings, hub, log, runs_root=None, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.run_settings = run_settings
        self.hub = hub
        self.log = log
        self.engine_ready = False  # runs start once PyTorch has loaded (the form's values are built with it)
        self.ask_close_job = ask_about_running_job  # replaceable in tests
        self.probe_images_provider = lambda: []  # the window points this at the Inspect tab's pinned probe
        self.panel = TrainingPanel(run_settings)
        self.progress = ProgressPanel()
        self.panel.progress_slot.addWidget(self.progress)
        self.rank_strip = RankStrip()  # a multi-process run's processes
        self.panel.progress_slot.addWidget(self.rank_strip)
        self.compute_view = ComputePanel()  # where the steps' time goes, per process (the "compute" records)
        self.panel.progress_slot.addWidget(self.compute_view)
        self.plots = TrainingPlots()
        self.addWidget(self.panel)
        self.addWidget(self.plots)
        self.setStretchFactor(1, 1)
        self.setSizes([320, 880])
        # Records drive the tab, from this window's run or from a followed run folder (one code path).
        self.record_view = RecordView(self.plots, self.progress, log, self, compute=self.compute_view)
        self.train_exports = TrainExports(self.plots, log, self)
        self._followed: Path | None = None  # the run folder drawn here last by following, until a run starts here
        self._resumable: Path | None = None  # the run shown, when it can go on from its last.pt ("Resume run")
        self._resume_lookup = BackgroundTask(self, imports=())  # its settings and last.pt, read off this thread
        self._resume_lookup.finished.connect(lambda found: self.resume_run(*found))
        self._resume_lookup.failed.connect(self._on_resume_failed)
        self.controller = TrainingController(hub, runs_root, self)
        self.controller.stateChanged.connect(self._on_state_changed)
        self.controller.statusChanged.connect(self._on_status_changed)
        self.controller.message.connect(log.append)
        self.controller.runStarted.connect(self.runStarted)
        self.controller.recordsArrived.connect(self.record_view.show)
        self.controller.ranksChanged.connect(self.rank_strip.show_ranks)
        self.controller.settingsRead.connect(self._on_settings_read)
        self.controller.restarted.connect(self._on_follow_restarted)
        self.controller.runFinished.connect(self._on_run_finished)
        self.controller.runFailed.connect(self._on_run_failed)
        self.panel.stopFollowingRequested.connect(self.stop_following)
        self.panel.trainRequested.connect(self.start_training)
        self.panel.findLrRequested.connect(self.find_learning_rate)
        self.lr_finder: LRFinderDialog | None = None  # made on first use
        self.sweep_dialog: SweepDialog | None = None  # made on first use
        self.panel.pauseToggled.connect(self.toggle_pause)
        self.panel.stopRequested.connect(self.stop)
        self.panel.resumeRunRequested.connect(self.resume_shown_run)
        self.panel.ownerRequested.connect(self.ownerRequested)

    # ---- the engine ----------------------------------------------------------------------------------
    def set_engine_ready(self) -> None:
        """Enable Train (call once the engine has loaded)."""
        if self.engine_ready:
            return
        self.engine_ready = True
        self.panel.set_engine_ready()
        self.log.append("info", f"Engine ready; runs are saved under {self.controller.runs_root}")

    def is_active(self) -> bool:
        """A run this window started is going on."""
        return self.controller.is_active()

    # ---- runs ----------------------------------------------------------------------------------------
    @Slot()
    def start_training(self) -> None:
        """Train pressed: valid settings go out as runRequested (the window asks about memory first)."""
        if not self.engine_ready or self.is_active():
            return
        try:
            settings = self.run_settings.build()
        except SettingsError as exc:
            self.log.append("error", str(exc))
            self.alert.emit(QMessageBox.Icon.Warning, "Cannot start training", str(exc))
            return
        probes = list(self.probe_images_provider())
        if probes:  # probes pinned in the Inspect tab or the Map get a timeline in this run (RUN/probes/)
            settings.train.probe_images = probes
            self.log.append("info", "Probe timeline for " + ", ".join(Path(p).name for p in probes)
                            + " (pinned in the Inspect tab or the Map)")
        self.runRequested.emit(settings)

    @Slot()
    def find_learning_rate(self) -> LRFinderDialog | None:
        """A range test on the form's current settings, in its dialog; a click on its curve sets the form's
        learning rate. None (with a message) before the engine has loaded or when the settings are not valid."""
        if not self.engine_ready:
            return None
        try:
            settings = self.run_settings.build()
        except SettingsError as exc:
            self.alert.emit(QMessageBox.Icon.Warning, "Cannot run the range test", str(exc))
            return None
        if self.lr_finder is None:
            self.lr_finder = LRFinderDialog(self)
            self.lr_finder.lrChosen.connect(self._use_learning_rate)
        self.lr_finder.show()
        self.lr_finder.raise_()
        self.lr_finder.start(settings)
        return self.lr_finder

    @Slot()
    def new_sweep(self) -> SweepDialog | None:
        """The New sweep dialog, its trials starting from the form's current settings; None (with a message)
        before the engine has loaded or when the settings are not valid."""
        if not self.engine_ready:
            self.statusMessage.emit("New Sweep: PyTorch is still loading; try again in a moment")
            return None
        try:
            settings = self.run_settings.build()
        except SettingsError as exc:
            self.alert.emit(QMessageBox.Icon.Warning, "Cannot start a sweep", str(exc))
            return None
        if self.sweep_dialog is None:
            self.sweep_dialog = SweepDialog(self.controller.runs_root, self)
            self.sweep_dialog.sweepStarted.connect(
                lambda folder: self.log.append("info", f"Sweep started in its own process: {folder}"))
        self.sweep_dialog.set_base(settings.to_dict())
        self.sweep_dialog.show()
        self.sweep_dialog.raise_()
        return self.sweep_dialog

    @Slot(float)
    def _use_learning_rate(self, lr: float) -> None:
        self.run_settings.set("lr", lr_text(lr))
        self.log.append("info", f"Learning rate set to {lr_text(lr)} from the range test")

    def start_confirmed(self, settings, ok: bool) -> None:
        if not ok:
            self.log.append("warning", "Run not started: the model would probably not fit in memory")
            return
        self.start_run(settings)

    def start_run(self, settings, resume: str | None = None, run_dir: str | None = None,
                  finetune_from: str | None = None) -> bool:
        """Start (or resume, in `run_dir`; or fine-tune from a checkpoint) a run shown here, in its own process;
        False before the engine has loaded or while one is active."""
        if not self.engine_ready or self.is_active():
            return False
        self.stop_following(quiet=True)
        self._followed = None
        self._offer_resume(None)
        self.record_view.reset(own_run=True)
        self.showRequested.emit()
        self.rank_strip.clear()
        # A resume or a fine-tune runs in one process; a new run uses the form's Processes.
        nproc = self.run_settings.get("nproc") if resume is None and finetune_from is None else 1
        return self.controller.start(settings, resume=resume, run_dir=run_dir, finetune_from=finetune_from,
                                     nproc=nproc)

    def shown_run_dir(self) -> Path | None:
        """The run this tab shows: the followed folder (also once following has stopped), else this window's
        last run."""
        return self._followed if self._followed is not None else self.controller.run_dir

    def last_run_dir(self) -> Path | None:
        return self.controller.run_dir

    def show_settings(self, values: dict) -> None:
        """The form holds `values` (a run's settings, to run them again) and shows the user's fields again."""
        self.stop_following()
        self.panel.set_values(values)

    def follow_run(self, folder: str, show: bool = True) -> bool:
        """Drive the plots, progress and log from a run folder another process writes (show: bring this tab
        to the front)."""
        if self.is_active():
            self.log.append("warning", f"Not following {folder} in the Train tab while a run of this window is active")
            return False
        self.record_view.reset(own_run=False)
        self.rank_strip.clear()
        self._offer_resume(None)
        self.controller.follow(folder)
        self._followed = self.controller.handle.folder
        self.panel.show_followed_settings(self._followed_name(), None)  # until its config.json is read
        self.progress.set_status(self.controller.status_text())
        if show:
            self.showRequested.emit()
        self.log.append("info", f"Following {folder} in the Train tab")
        return True

    def is_following(self, folder: str | Path) -> bool:
        """This tab follows `folder` now."""
        return self.controller.following and self._followed is not None and \
            Path(folder).expanduser().resolve() == self._followed.expanduser().resolve()

    def _followed_name(self) -> str:
        folder = self._followed
        return (folder.name or str(folder)) if folder is not None else ""  # "." has no name

    @Slot()
    def stop_following(self, quiet: bool = False) -> None:
        """Stop reading the followed folder (its plots stay) and show the user's own settings again."""
        folder = self.controller.stop_following()
        if folder is not None and not quiet:
            self.log.append("info", f"Stopped following {folder}")
            self.progress.set_status("")
        self.panel.show_own_settings()
        self.panel.set_state(self.controller.state)

    @Slot(object)
    def _on_settings_read(self, config) -> None:
        if self.controller.following:
            self.panel.show_followed_settings(self._followed_name(), config)

    @Slot()
    def _on_follow_restarted(self) -> None:
        """The followed folder was made again (or its file replaced): a new run, drawn from its start."""
        self.record_view.reset(own_run=False)
        self.progress.set_status(self.controller.status_text())

    @Slot()
    def toggle_pause(self) -> None:
        self.controller.toggle_pause()

    @Slot()
    def stop(self) -> None:
        self.controller.stop()

    @Slot(str)
    def _on_state_changed(self, state: str) -> None:
        self.panel.set_state(state)
        self.progress.set_paused(state == "paused")
        self.progress.set_status(self.controller.status_text())
        self.statusMessage.emit(STATE_TEXT[state])

    @Slot(dict)
    def _on_run_finished(self, summary: dict) -> None:
        self.progress.finish(completed=not summary.get("stopped"))
        if summary.get("run_dir"):
            self.runEnded.emit(summary["run_dir"])
        if summary.get("stopped"):
            self._offer_resume(self.controller.run_dir, f"Stopped: Resume continues it from its {layout.LAST}")

    @Slot(str)
    def _on_run_failed(self, message: str) -> None:
        self.progress.finish(completed=False)
        self._offer_resume(self.controller.run_dir, f"Failed: once the cause is fixed, Resume continues it from its "
                                                    f"{layout.LAST} (if it saved one)")
        self.alert.emit(QMessageBox.Icon.Critical, "Training failed", message)

    # ---- going on with a stopped or interrupted run ---------------------------------------------------
    @Slot(str)
    def _on_status_changed(self, status: str) -> None:
        self.progress.set_status(self.controller.status_text())
        if not self.controller.following:
            return
        if status in ENDED and self._followed is not None:
            self.runEnded.emit(str(self._followed))  # a followed run that has ended (or was opened ended)
        folder = self.controller.handle.folder
        if status == INTERRUPTED:
            self.progress.finish(completed=False)  # nothing counts down: its last ETA is no time left
            self._offer_resume(folder, f"Interrupted: its process ended without a final record (killed, crashed, or "
                                       f"its machine went down). Resume continues it from its {layout.LAST}")
            self.log.append("warning", f"{folder.name} was interrupted: its process is gone without a final record; "
                                       f"Resume continues it from its {layout.LAST}")
        elif status in RESUMABLE:
            self._offer_resume(folder, f"{status.capitalize()}: Resume continues it from its {layout.LAST}")
        else:
            self._offer_resume(None)

    def _offer_resume(self, folder: Path | None, why: str = "") -> None:
        self._resumable = folder if why else None
        self.panel.offer_resume(f"{folder.name}: {why}" if self._resumable is not None else "")

    @Slot()
    def resume_shown_run(self) -> None:
        """"Resume run": the run shown goes on from its last.pt, in its own folder, shown here."""
        folder = self._resumable
        if folder is None or not self.engine_ready or self.is_active():
            return

        def lookup(_ctx):
            from core.runs.actions import resume_request

            config, checkpoint = resume_request(folder)
            return str(folder), config, str(checkpoint)

        self._resume_lookup.submit(lookup)

    @Slot(str)
    def _on_resume_failed(self, text: str) -> None:
        self.log.append("error", f"Cannot resume: {text}")
        self.alert.emit(QMessageBox.Icon.Warning, "Cannot resume", text)

    def resume_run(self, run: str, config: dict, checkpoint: str) -> bool:
        """Continue a run in its own folder from `checkpoint` (its last.pt), with its settings (config.json): its
        records go on in the same metrics.jsonl. False before the engine has loaded or while a run is active."""
        if not self.engine_ready or self.is_active():  # before the engine loads: no torch on this thread
            self.log.append("warning", "Cannot resume now: wait for PyTorch to load and for the current run to end")
            return False
        from core.training.session import RunSettings

        return self.start_run(RunSettings.from_dict(config), resume=checkpoint, run_dir=run)

    # ---- closing -------------------------------------------------------------------------------------
    def may_close(self, parent: QWidget) -> bool:
        """False when this window's run is going on and the user cancels closing (asked with `ask_close_job`:
        stop it, or leave it running in its own process)."""
        if self.is_active():
            return close_with_job(self.controller, self.ask_close_job(parent, self.controller.run_dir))
        return True

    def shutdown(self) -> None:
        """Stop this window's run (saving last.pt) and wait for its process, stop following; an export in
        progress finishes."""
        if self.is_active():
            self.log.append("info", f"Closing: stopping the run and saving {layout.LAST}…")
            self.statusMessage.emit("Stopping the run…")
        self.controller.shutdown()
        if self.lr_finder is not None:
            self.lr_finder.shutdown()
        if self.sweep_dialog is not None:
            self.sweep_dialog.shutdown()
        self._resume_lookup.shutdown()
        self.plots.timer.stop()
        self.train_exports.task.shutdown()
