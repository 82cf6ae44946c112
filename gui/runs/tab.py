"""The Runs tab: every run under the runs root and the added folders in a sortable, filterable table; the
selected runs overlaid in plots and compared setting by setting; rename, note, delete (with Undo), open a
checkpoint, resume, train again.

All file reading happens on worker threads (gui.concurrent.BackgroundTask): a full scan (at start, on
Refresh, every RESCAN_MS to find new runs) and a poll every POLL_MS of the selected and visible runs, which
reads only the bytes appended since the last poll. The main window wires the request signals.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLineEdit, QMenu, QSplitter,
                               QTableView, QTabWidget, QToolBar, QVBoxLayout, QWidget)

from core.runs.actions import (TrashedRun, resume_request,
                              run_checkpoint, run_settings)
from core.runs.index import RunIndex, RunSummary
from core.runs.layout import BEST, LAST, TRIALS
from core.runs.reducer import RESUMABLE
from core.tuning.run_rows import run_rows
from gui.concurrent import BackgroundTask
from gui.runs.compare import SettingsComparison
from gui.runs.coordinates_view import ParallelCoordinates, SettingScatter
from gui.runs.file_actions import RunFileActions
from gui.runs.curves import RunCurves
from gui.runs.model import PATH_ROLE, RunsFilterProxy, RunsTableModel
from gui.runs.overlay import RunsOverlay
from gui.runs.undo_bar import UndoBar

POLL_MS = 500
RESCAN_MS = 5000  # at least; a scan that takes long (10,000 runs) is repeated at most 10% of the time
MAX_VISIBLE_POLLED = 60


class RunsTab(RunFileActions, QWidget):
    openCheckpointRequested = Signal(str)  # a best.pt / last.pt path, for the inspector
    resumeRequested = Signal(str, dict, str)  # run folder, its settings (config.json), last.pt
    followRequested = Signal(str)  # a run folder, to follow live in the Train tab
    trainAgainRequested = Signal(dict)  # settings (config.json) for the training form
    message = Signal(str, str)  # level, text (for the log)
    scanned = Signal(int)  # a full scan finished (number of runs)
    foldersChanged = Signal(list)  # the added folders (str), to remember them

    def __init__(self, runs_root: str | Path | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs_root = Path(runs_root) if runs_root is not None else None
        self.index = RunIndex(self.runs_root)
        self.curves: dict[str, RunCurves] = {}
        self._trash_stack: list[list[TrashedRun]] = []
        self._select_after_scan: list[str] | None = None
        self._scanned: dict[str, RunSummary] = {}  # the last scan's rows, to send only changes to the table

        self.model = RunsTableModel(self)
        self.proxy = RunsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(6, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in ((0, 260), (1, 150), (6, 130)):  # names are long: '<date>_<time>_<data>_<model>'
            self.table.setColumnWidth(column, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_selection())
        self.table.doubleClicked.connect(lambda _: self.open_checkpoint("best"))

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter runs (name, status, dataset, model, note…)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.set_filter_text)
        self.toolbar = QToolBar()
        self.toolbar.addWidget(self.filter)
        self.actions_by_name = self._make_actions()
        self.undo_bar = UndoBar()
        self.undo_bar.undoRequested.connect(self.undo_delete)

        self.overlay = RunsOverlay()
        self.comparison = SettingsComparison()
        self.details = QTabWidget()
        self.details.addTab(self.overlay, "Curves")
        self.details.addTab(self.comparison, "Settings")
        self.coordinates = ParallelCoordinates()
        self.coordinates.brushedRuns.connect(self._select_brushed)
        self.scatter = SettingScatter()
        self.details.addTab(self.coordinates, "Parallel Coordinates")
        self.details.addTab(self.scatter, "Scatter")
        self._brushing = False  # a selection made by brushing keeps the runs the plot shows
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.toolbar)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.undo_bar)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.details)
        split.setSizes([300, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

        # Reading run folders needs no torch: imports=() so the list shows before PyTorch has loaded.
        self.scanner = BackgroundTask(self, imports=())
        self.scanner.finished.connect(self._on_scanned)
        self.scanner.failed.connect(lambda text: self.message.emit("error", f"Runs: scan failed: {text}"))
        self.poller = BackgroundTask(self, imports=())
        self.poller.finished.connect(self._on_polled)
        # Rename, note, trash and restore touch files (maybe on a slow mount): one at a time, in order, off
        # the GUI thread; each job returns what the GUI thread does next with its result.
        self.file_actions = BackgroundTask(self, imports=())
        self.file_actions.finished.connect(lambda done: done[0](done[1]))
        self.file_actions.failed.connect(lambda text: self.message.emit("error", text))
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self.rescan_timer = QTimer(self)
        self.rescan_timer.setInterval(RESCAN_MS)
        self.rescan_timer.timeout.connect(lambda: self.scanner.busy or not self.isVisible() or self.refresh())
        self._update_enabled()

    # ---- actions -------------------------------------------------------------------------------------
    def _make_actions(self) -> dict[str, QAction]:
        specs = [
            ("refresh", "Refresh", "F5", "Scan the runs folder again", self.refresh),
            ("rename", "Rename…", "F2", "Give the run a name (its folder stays where it is)",
             lambda: self.rename_selected()),
            ("note", "Note…", None, "Write a note on the run", lambda: self.note_selected()),
            ("delete", "Delete", QKeySequence.StandardKey.Delete,
             "Move the selected runs to the runs trash (Undo puts them back)", self.delete_selected),
            ("undo", "Undo Delete", QKeySequence.StandardKey.Undo, "Put the last deleted runs back", self.undo_delete),
            ("best", f"Open {BEST}", None, "Open the run's best checkpoint in the inspector",
             lambda: self.open_checkpoint("best")),
            ("last", f"Open {LAST}", None, "Open the run's last checkpoint in the inspector",
             lambda: self.open_checkpoint("last")),
            ("follow", "Follow Live", None, "Show this run in the Train tab's plots, progress and log as it is "
             "written", lambda: self._one() and self.followRequested.emit(self._one())),
            ("resume", "Resume", None, f"Continue a stopped or interrupted run from its {LAST}",
             self.resume_selected),
            ("again", "Train Again", None, "Fill the training form with this run's settings", self.train_again),
            ("csv", "Export CSV…", None, "Save the run's step and epoch metrics as a CSV file",
             lambda: self.export_csv()),
            ("png", "Export Plots…", None, "Save the overlaid plots as a PNG or SVG file", lambda: self.export_plots()),
        ]
        actions = {}
        for name, text, keys, tip, slot in specs:
            action = QAction(text, self)
            action.setToolTip(tip)
            if keys is not None:
                action.setShortcut(QKeySequence(keys))
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)  # only in this tab
            action.triggered.connect(slot)
            self.addAction(action)
            if name not in ("undo",):
                self.toolbar.addAction(action)
            actions[name] = action
        return actions

    def _context_menu(self, pos) -> None:
        menu = QMenu(self)
        for name in ("rename", "note", "follow", "best", "last", "resume", "again", None, "delete"):
            menu.addSeparator() if name is None else menu.addAction(self.actions_by_name[name])
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _update_enabled(self) -> None:
        selected = self.selected_paths()
        one = len(selected) == 1
        for name in ("rename", "follow", "best", "last", "again", "csv"):
            self.actions_by_name[name].setEnabled(one)
        # Offered for a run that can go on: stopped, interrupted (its process gone without a word), failed.
        summary = self.model.summary_for(selected[0]) if one else None
        self.actions_by_name["resume"].setEnabled(summary is not None and summary.status in RESUMABLE)
        self.actions_by_name["note"].setEnabled(one)
        self.actions_by_name["delete"].setEnabled(bool(selected))
        self.actions_by_name["png"].setEnabled(bool(selected))
        self.actions_by_name["undo"].setEnabled(bool(self._trash_stack))

    # ---- folders and scanning ------------------------------------------------------------------------
    def start(self) -> None:
        """First scan, then keep the list and the selected runs up to date."""
        self.refresh()
        self.poll_timer.start()
        self.rescan_timer.start()

    def add_folders(self, folders: list[str]) -> list[Path]:
        """Add run folders (or folders of runs) to the list; returns the runs added and selects them."""
        added = [p for folder in folders for p in self.index.add_folder(folder)]
        self.foldersChanged.emit([str(p) for p in self.index.added])
        if added:
            self._select_after_scan = [str(p) for p in added]
            self.refresh()
        return added

    def refresh(self) -> None:
        index, previous = self.index, self._scanned

        def job(ctx):
            start = time.monotonic()
            summaries = index.scan(ctx.cancelled, ctx.update)
            # Compared here, off the GUI thread: a rescan of 10,000 runs usually changes a handful of rows.
            latest = {s.path: s for s in summaries}
            changed = [s for s in summaries if previous.get(s.path) != s]
            return summaries, latest, changed, latest.keys() == previous.keys(), time.monotonic() - start

        self.scanner.submit(job)

    def _on_scanned(self, result) -> None:
        summaries, latest, changed, same_runs, seconds = result
        self._scanned = latest
        self.rescan_timer.setInterval(max(RESCAN_MS, int(seconds * 10_000)))
        if same_runs and self.model.rowCount() == len(latest):
            for summary in changed:
                self.model.update_run(summary)
        else:
            self.model.set_runs(summaries)
        wanted = self._select_after_scan
        if wanted:
            self._select_after_scan = None
            self.select_paths(wanted)
        self.overlay.set_run_count(len(summaries))
        self._update_enabled()  # a status changed: Resume is offered, or no longer
        self.scanned.emit(len(summaries))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.poll_timer.isActive() and not self.scanner.busy:  # catch up with what changed meanwhile
            self.refresh()

    # ---- live updates --------------------------------------------------------------------------------
    def visible_paths(self) -> list[str]:
        first = self.table.rowAt(0)
        last = self.table.rowAt(self.table.viewport().height() - 1)
        if first < 0:
            return []
        last = self.proxy.rowCount() - 1 if last < 0 else last
        last = min(last, first + MAX_VISIBLE_POLLED)
        return [self.proxy.index(r, 0).data(PATH_ROLE) for r in range(first, last + 1)]

    def poll(self) -> None:
        """Read what the selected and visible runs appended since the last poll (on the worker)."""
        if self.poller.busy or not self.isVisible():
            return  # a slow disk: the next tick tries again, nothing piles up; hidden: nothing to show
        paths = list(dict.fromkeys(self.selected_paths() + self.visible_paths()))
        curves = [(p, self.curves[p]) for p in self.selected_paths() if p in self.curves]
        index = self.index

        def job(ctx):
            for _, c in curves:
                if not ctx.cancelled():
                    c.update()
            return [index.summary(p) for p in paths if not ctx.cancelled()]

        self.poller.submit(job)

    def _on_polled(self, summaries: list[RunSummary]) -> None:
        for summary in summaries:
            self.model.update_run(summary)
        self._update_enabled()
        # By record count, not by what this job read: a superseded job may have read records too.
        self.overlay.redraw_changed()

    # ---- selection -----------------------------------------------------------------------------------
    def selected_paths(self) -> list[str]:
        rows = self.table.selectionModel().selectedRows()
        return [r.data(PATH_ROLE) for r in sorted(rows, key=lambda r: r.row())]

    def select_paths(self, paths: list[str]) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for path in paths:
            row = self.model.row_of(path)
            if row is not None:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if index.isValid():
                    selection.select(index, flags)

    def _on_selection(self) -> None:
        paths = self.selected_paths()
        self.curves = {p: self.curves.get(p) or RunCurves(p) for p in paths}
        runs = []
        for p in paths:
            summary = self.model.summary_for(p)
            runs.append((p, summary.name if summary else Path(p).name, self.curves[p]))
        self.overlay.set_runs(runs)
        self.comparison.set_runs([(name, self.index.config(p)) for p, name, _ in runs])
        if not self._brushing:
            self._compare_many(paths)
        self._update_enabled()
        if paths:
            self._poll_now()

    def _compare_many(self, paths: list[str]) -> None:
        """The parallel coordinates and the scatter of the selected runs (settings as last read by the scan)."""
        metrics = []
        for p in paths:
            summary = self.model.summary_for(p)
            metrics.append({} if summary is None else {"best_val_acc": summary.best_val_acc,
                                                       "epochs_done": summary.epochs_done,
                                                       "duration_s": summary.duration_s})
        rows, varying, measured = run_rows((p, self.index.config(p), m) for p, m in zip(paths, metrics))
        self.coordinates.set_runs(rows, varying + measured)
        self.scatter.set_runs(rows, varying, measured)
        self.coordinates.set_note("")
        sweeps = {Path(p).parent.parent for p in paths if Path(p).parent.name == TRIALS}
        if len(sweeps) == 1 and len(paths) > 1:  # one sweep's trials: how much each setting mattered
            self._off_thread(lambda: _importances(sweeps.pop()), self.coordinates.set_note)

    def _select_brushed(self, paths: list[str]) -> None:
        """Brushing selects its runs in the table; the plot keeps showing all the runs it was given."""
        self._brushing = True
        try:
            self.select_paths(paths)
        finally:
            self._brushing = False

    def _poll_now(self) -> None:
        """Poll at once: a poll already running started before this change and would not show it."""
        self.poller.cancel()
        self.poll()

    def _one(self) -> str | None:
        paths = self.selected_paths()
        return paths[0] if len(paths) == 1 else None

    # ---- commands (the run folder is read on the file-actions thread; a RunActionError reaches the log) ----
    def _fail(self, exc: Exception) -> None:
        self.message.emit("error", str(exc))

    def open_checkpoint(self, which: str) -> None:
        path = self._one()
        if path is not None:
            self._off_thread(lambda: str(run_checkpoint(path, which)), self.openCheckpointRequested.emit)

    def resume_selected(self) -> None:
        path = self._one()
        if path is not None:
            self._off_thread(lambda: resume_request(path),
                             lambda found: self.resumeRequested.emit(path, found[0], str(found[1])))

    def train_again(self) -> None:
        path = self._one()
        if path is not None:
            self._off_thread(lambda: run_settings(path), self.trainAgainRequested.emit)

    def shutdown(self) -> None:
        self.poll_timer.stop()
        self.rescan_timer.stop()
        self.file_actions.shutdown()  # a move in progress finishes
        self.scanner.shutdown()
        self.poller.shutdown()


def _importances(sweep: Path) -> str:
    """The sweep's parameter importances in words (Optuna's, written when the sweep ended); "" before."""
    from core.tuning.sweep.process import read_importances

    found = sorted(read_importances(sweep).items(), key=lambda kv: -kv[1])
    return f"{sweep.name}: importance " + ", ".join(f"{k} {v:.0%}" for k, v in found) if found else ""
