"""Every connection between two tabs, in one place: "when X happens in tab A, do Y in tab B", one function each.

A tab never reaches into another tab, nor into the window: it emits signals and offers public methods, and the
functions below connect one to the other (import-linter checks that no tab imports another, or this package).
What a single tab needs from the window (its menu actions, the log, message boxes, the checkpoint service) is
connected by that tab's install function (gui/window/*_hookup.py); the main window only composes them.

To add a connection: write one function here, named for what the user sees, and call it from `wire_tabs`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QTimer, SignalInstance
from PySide6.QtWidgets import QWidget

from core.runs.index import is_run_folder
from gui.data.data_view import DataView
from gui.datamap import MapPanel
from gui.dossier.panel import DossierPanel
from gui.evaluate.tab import EvaluateTab
from gui.inspector.panel import InspectorPanel
from gui.model_view import ModelView
from gui.run_settings_model import values_from_config
from gui.runs.tab import RunsTab
from gui.training.tab import TrainTab

Log = Callable[[str, str], None]  # level, text: the window's log panel


@dataclass(frozen=True)
class Tabs:
    """The tabs, and the two things of the window every connection may use: show a tab, write to the log."""

    train: TrainTab
    data: DataView
    model: ModelView
    inspector: InspectorPanel
    dossier: DossierPanel
    runs: RunsTab
    evaluate: EvaluateTab
    show: Callable[[QWidget], None]
    log: Log
    datamap: MapPanel | None = None


def wire_tabs(tabs: Tabs, open_checkpoint: Callable[[str], None], confirm_parent: QWidget,
              remember_settings: Callable[[], None]) -> None:
    """Connect the tabs to each other (called once, by the main window, after every tab is installed)."""
    data_sizes_the_model(tabs.data, tabs.model)
    owner_links_show_the_owner_tab(tabs)
    train_checks_memory_with_the_model_tab(tabs.train, tabs.model, confirm_parent, remember_settings)
    pinned_probe_gets_a_timeline_in_the_run(tabs.train, tabs.inspector, tabs.datamap)
    thumbnail_opens_in_the_inspector(tabs.data, tabs.inspector, tabs.show)
    no_model_offer_shows_the_train_tab(tabs.inspector, tabs.train, tabs.show)
    run_checkpoint_opens_in_the_inspector(tabs.runs, tabs.inspector, open_checkpoint, tabs.show)
    train_again_fills_the_form(tabs.runs, tabs.train, tabs.show, tabs.log)
    resume_continues_in_the_train_tab(tabs.runs, tabs.train)
    runs_tab_follow_shows_in_the_train_tab(tabs.runs, tabs.train)
    a_new_run_appears_in_the_runs_tab(tabs.train, tabs.runs)
    evaluate_knows_the_current_run(tabs.evaluate, tabs.train)
    an_ended_run_shows_its_evaluation(tabs.train, tabs.evaluate)
    gallery_image_opens_in_the_inspector(tabs.evaluate, tabs.inspector, tabs.show, tabs.log)
    finetune_runs_in_the_train_tab(tabs.evaluate, tabs.train, tabs.log)
    if tabs.datamap is not None:
        map_point_opens_in_the_inspector(tabs.datamap, tabs.inspector, tabs.show)
        label_issues_colour_the_map(tabs.evaluate, tabs.datamap)


# ---- Data and Model ----------------------------------------------------------------------------------------
def data_sizes_the_model(data: DataView, model: ModelView) -> None:
    """A dataset opened in Data sets the Model tab's input (channels, size) and output (classes) layers."""
    data.input_changed.connect(model.set_input)


def owner_links_show_the_owner_tab(tabs: Tabs) -> None:
    """A value shown read-only in Train or Model links to the tab that owns it ("data", "model", "train")."""
    owners = {"train": tabs.train, "data": tabs.data, "model": tabs.model}
    for tab in (tabs.train, tabs.model):
        tab.ownerRequested.connect(lambda owner: tabs.show(owners[owner]))


def thumbnail_opens_in_the_inspector(data: DataView, inspector: InspectorPanel, show) -> None:
    """A thumbnail double-clicked in Data is inspected in Inspect."""
    data.inspectRequested.connect(lambda paths: (show(inspector), inspector.open_paths(paths)))


# ---- Train -------------------------------------------------------------------------------------------------
def train_checks_memory_with_the_model_tab(train: TrainTab, model: ModelView, parent: QWidget,
                                           remember_settings: Callable[[], None]) -> None:
    """Train pressed: the form is remembered, then the Model tab's memory estimate may ask before the run."""
    def confirm(settings) -> None:
        remember_settings()
        model.confirm_run(lambda ok: train.start_confirmed(settings, ok), parent)
    train.runRequested.connect(confirm)


def pinned_probe_gets_a_timeline_in_the_run(train: TrainTab, inspector: InspectorPanel,
                                            datamap: MapPanel | None = None) -> None:
    """The image pinned in Inspect and the images pinned as probes in the Map get a probe timeline in the next
    run (RUN/probes/); once each, at most as many as a run follows."""
    from core import catalog

    def probes() -> list[str]:
        pinned = inspector.pinned_probe_paths() + (datamap.pinned_probe_paths() if datamap is not None else [])
        return list(dict.fromkeys(pinned))[:catalog.PROBE_IMAGES.maximum]
    train.probe_images_provider = probes


def no_model_offer_shows_the_train_tab(inspector: InspectorPanel, train: TrainTab, show) -> None:
    """Inspect's "Train a model" (offered when there is no model) goes to the Train tab."""
    inspector.trainRequested.connect(lambda: show(train))


# ---- Runs --------------------------------------------------------------------------------------------------
def run_checkpoint_opens_in_the_inspector(runs: RunsTab, inspector: InspectorPanel,
                                          open_checkpoint: Callable[[str], None], show) -> None:
    """A run's best.pt / last.pt opened from Runs becomes the current model, shown in Inspect."""
    runs.openCheckpointRequested.connect(lambda path: (open_checkpoint(path), show(inspector)))


def train_again_fills_the_form(runs: RunsTab, train: TrainTab, show, log: Log) -> None:
    """"Train again" in Runs puts that run's settings in the Train tab's form (unusable values are skipped)."""
    def fill(config: dict) -> None:
        train.show_settings(values_from_config(config))
        show(train)
        log("info", "The training form now holds that run's settings; press Train to run them again")
    runs.trainAgainRequested.connect(fill)


def resume_continues_in_the_train_tab(runs: RunsTab, train: TrainTab) -> None:
    """"Resume" in Runs continues a stopped or interrupted run in its own folder, shown in the Train tab (as the
    Train tab's own "Resume run" does)."""
    runs.resumeRequested.connect(train.resume_run)


def runs_tab_follow_shows_in_the_train_tab(runs: RunsTab, train: TrainTab) -> None:
    """"Follow" in Runs drives the Train tab's plots, progress and log from that run folder."""
    runs.followRequested.connect(train.follow_run)


def a_new_run_appears_in_the_runs_tab(train: TrainTab, runs: RunsTab) -> None:
    """A run started in Train is listed in Runs at once (not at the next rescan)."""
    train.runStarted.connect(lambda _folder: runs.refresh())


def follow_folders(tabs: Tabs, folders: list[str]) -> None:
    """`layerscope monitor DIR...` / `--follow DIR` / a drop / Open Run Folder: the folders join the Runs tab;
    one run folder (or one a run is about to write) is also followed live in the Train tab, several are shown in
    the Runs tab."""
    added = tabs.runs.add_folders(folders)
    tabs.show(tabs.runs)
    followed = len(folders) == 1 and _may_become_a_run(Path(folders[0])) and tabs.train.follow_run(folders[0])
    missing = [f for f in folders if not Path(f).is_dir()]
    for folder in missing:
        if followed:
            tabs.log("info", f"{folder}: no such folder yet; the Train tab shows its run once it starts")
        else:
            tabs.log("warning", f"{folder}: no such folder; its row says so until it appears")
    if not added and not missing and not followed:
        tabs.log("warning", f"No run folders found in {', '.join(folders)}")


def _may_become_a_run(path: Path) -> bool:
    """A folder the Train tab can follow: a run folder, or one a run is about to write (not there yet, or
    empty: `layerscope --follow DIR` started before `layerscope train --out DIR`). A folder of runs is not."""
    if not path.exists():
        return True
    try:
        return path.is_dir() and (is_run_folder(path) or next(path.iterdir(), None) is None)
    except OSError:
        return False


# ---- Evaluate ----------------------------------------------------------------------------------------------
def evaluate_knows_the_current_run(evaluate: EvaluateTab, train: TrainTab) -> None:
    """Evaluate's "Best of current run" is the best.pt of the Train tab's last run."""
    evaluate.set_run_dir_provider(train.last_run_dir)


def an_ended_run_shows_its_evaluation(train: TrainTab, evaluate: EvaluateTab) -> None:
    """A run shown in Train that has finished (this window's, or a followed one, or one opened finished) shows
    the evaluation it wrote at its end (RUN/eval) in Evaluate, instead of "No evaluation yet"."""
    train.runEnded.connect(evaluate.show_run_evaluation)


def opened_checkpoint_shows_its_run(opened: SignalInstance, train: TrainTab, log: Log) -> None:
    """A checkpoint opened from a run folder (File > Open, --checkpoint, a drop, the Runs tab) shows that run in
    the Train tab: its curves, its settings read-only (as following does) and, once Train says it has ended, its
    evaluation in Evaluate. The tab in front stays; a run this window is training is never replaced."""
    def show(path: str) -> None:
        folder = Path(path).expanduser().parent
        if train.is_active() or train.is_following(folder) or not is_run_folder(folder):
            return
        if train.follow_run(str(folder), show=False):
            log("info", f"The Train tab shows the run of {Path(path).name}: {folder}")
    opened.connect(show)


def gallery_image_opens_in_the_inspector(evaluate: EvaluateTab, inspector: InspectorPanel, show, log: Log) -> None:
    """An image clicked in a confusion cell's gallery opens in Inspect, saliency for both classes side by side."""
    def inspect(file: str, true: str, predicted: str) -> None:
        if not Path(file).is_file():
            log("info", f"{file} is not an image file here (moved or deleted?); it cannot be inspected")
            return
        show(inspector)
        inspector.open_with_saliency_pair(file, true)
        log("info", f"Inspecting {Path(file).name} (true: {true}, predicted: {predicted}): saliency "
                    f"for the predicted class (left) and '{true}' (right)")
    evaluate.inspectRequested.connect(inspect)


def finetune_runs_in_the_train_tab(evaluate: EvaluateTab, train: TrainTab, log: Log) -> None:
    """Fine-tune with corrections (Evaluate's Compare page) starts a run from a checkpoint, shown in Train."""
    def finetune(settings, checkpoint: str) -> None:
        if not train.engine_ready or train.is_active():
            log("warning", "Cannot fine-tune now: wait for PyTorch to load and for the current run to end")
            return
        train.start_run(settings, finetune_from=checkpoint)
        log("info", f"Fine-tuning from {checkpoint}: {settings.train.epochs} epochs at lr {settings.train.lr:g}")
    evaluate.finetuneRequested.connect(finetune)


# ---- Map ---------------------------------------------------------------------------------------------------
def map_point_opens_in_the_inspector(datamap: MapPanel, inspector: InspectorPanel, show) -> None:
    """A point clicked in the Map (an image file) is inspected in Inspect."""
    datamap.imageChosen.connect(lambda path: (show(inspector), inspector.open_paths([path])))


def a_dropped_image_is_marked_on_the_map(dropped: SignalInstance, datamap: MapPanel, show) -> None:
    """An image file dropped on the window (inspected in Inspect) is also marked where it falls on the run the
    Map tab shows, if it shows one: the last file of the drop (URLs are not fetched twice). Dropped while the
    map is in front, the map stays in front (Inspect works on it behind)."""
    def place(paths: list[str]) -> None:
        files = [p for p in paths if Path(p).is_file()]
        if not files or datamap.run_maps is None:
            return
        datamap.place_dropped(files[-1])
        if datamap.isVisible():
            QTimer.singleShot(0, lambda: show(datamap))  # after the drop has brought Inspect to the front
    dropped.connect(place)


def label_issues_colour_the_map(evaluate: EvaluateTab, datamap: MapPanel) -> None:
    """A label-issue pass finished in Evaluate: the Map offers "Colour by: Label-issue score" for a run whose
    images it scored."""
    def give(found: dict) -> None:
        datamap.set_label_issues({issue.file: issue.score for issue in found.get("issues", [])})
    evaluate.issues.task.finished.connect(give)
