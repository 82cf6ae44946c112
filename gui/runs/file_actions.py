"""The Runs tab's commands that touch files: rename, note, delete to the trash and undo, export metrics (CSV)
and plots (PNG / SVG). File work runs on the tab's `file_actions` BackgroundTask (off the GUI thread, one at a
time, in order); a mixin of RunsTab, which owns the widgets, the index and the task.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog

from core.runs.metrics_csv import write_metrics_csv
from core.runs.actions import RunActionError, rename_run, restore_run, set_note, trash_run
from gui.plotting.export import FILTER as PLOT_FILTER
from gui.plotting.export import export_plot


class RunFileActions:
    def _off_thread(self, work, then) -> None:
        """`work()` on the file-actions thread, then `then(result)` on the GUI thread (a RunActionError
        raised by `work` reaches the log as it is)."""
        self.file_actions.add(lambda _ctx: (then, work()))

    def rename_selected(self, name: str | None = None) -> None:
        path = self._one()
        if path is None:
            return
        if name is None:
            current = self.model.summary_for(path)
            name, ok = QInputDialog.getText(self, "Rename run", "Name:", text=current.name if current else "")
            if not ok:
                return
        self._off_thread(lambda: rename_run(path, name), lambda _: self._poll_now())

    def note_selected(self, note: str | None = None) -> None:
        path = self._one()
        if path is None:
            return
        if note is None:
            current = self.model.summary_for(path)
            note, ok = QInputDialog.getMultiLineText(self, "Note", "Note on this run:", current.note if current else "")
            if not ok:
                return
        self._off_thread(lambda: set_note(path, note), lambda _: self._poll_now())

    def delete_selected(self) -> None:
        """Move the selected runs to <runs root>/.trash/; the bar under the table (and Ctrl+Z) undoes it."""
        paths, runs_root = self.selected_paths(), self.runs_root

        def work():
            trashed, errors = [], []
            for path in paths:
                try:
                    trashed.append(trash_run(path, runs_root if runs_root is not None else Path(path).parent))
                except RunActionError as exc:
                    errors.append(exc)
            return trashed, errors

        self._off_thread(work, self._on_trashed)

    def _on_trashed(self, result) -> None:
        trashed, errors = result
        for exc in errors:
            self._fail(exc)
        if not trashed:
            return
        self._trash_stack.append(trashed)
        for item in trashed:
            self.index.forget(item.original)
        self.foldersChanged.emit([str(p) for p in self.index.added])
        self.model.set_runs([self.model.summary(i) for i in range(self.model.rowCount())
                             if Path(self.model.summary(i).path) not in {t.original for t in trashed}])
        where = trashed[0].trashed.parent
        text = f"Deleted {len(trashed)} run{'s' if len(trashed) > 1 else ''} (moved to {where})"
        self.undo_bar.show_message(text)
        self.message.emit("info", text)
        self._update_enabled()

    def undo_delete(self) -> None:
        if not self._trash_stack:
            return
        items = self._trash_stack.pop()
        self.undo_bar.hide()
        self._update_enabled()

        def work():
            restored, errors = [], []
            for item in items:
                try:
                    restored.append((str(restore_run(item)), item))
                except RunActionError as exc:
                    errors.append(exc)
            return restored, errors

        self._off_thread(work, self._on_restored)

    def _on_restored(self, result) -> None:
        restored, errors = result
        for exc in errors:
            self._fail(exc)
        for _, item in restored:
            if self._outside_root(item.original):
                self.index.add_folder(item.original)
                self.foldersChanged.emit([str(p) for p in self.index.added])
        if restored:
            self.message.emit("info", f"Restored {len(restored)} run(s)")
            self._select_after_scan = [path for path, _ in restored]
            self.refresh()
        self._update_enabled()

    def export_csv(self, out: str | None = None) -> None:
        path = self._one()
        if path is None:
            return
        if out is None:
            out, _ = QFileDialog.getSaveFileName(self, "Export metrics", str(Path(path) / "metrics.csv"), "CSV (*.csv)")
            if not out:
                return
        self._off_thread(lambda: write_metrics_csv(path, out),
                         lambda rows: self.message.emit("info", f"Wrote {rows} rows of metrics to {out}"))

    def export_plots(self, out: str | None = None) -> None:
        if out is None:
            out, _ = QFileDialog.getSaveFileName(self, "Export plots", str(Path.home() / "runs.png"), PLOT_FILTER)
            if not out:
                return
        try:
            written = export_plot(self.overlay.view.ci, out)  # painting: on the GUI thread
        except OSError as exc:
            return self.message.emit("error", f"{out}: cannot write the plots ({exc.strerror or exc})")
        self.message.emit("info", f"Saved the plots to {written}")

    def _outside_root(self, path: Path) -> bool:
        return self.runs_root is None or Path(path).parent != self.runs_root

