"""The Evaluate tab: three pages (Evaluate, Label issues, Compare) and the export job of File > Export Model.

Signals for the window (gui/window/wiring.py and evaluate_hookup.py connect them; this package imports no
other tab):
    inspectRequested(file, true class, predicted class)   an image clicked in a cell's gallery
    finetuneRequested(RunSettings, checkpoint)            start a fine-tune run
    message(level, text)                                  for the log
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget

from gui.concurrent import BackgroundTask
from gui.evaluate.compare_view import CompareView
from gui.evaluate.eval_panel import EvaluatePanel
from gui.evaluate.issues_panel import IssuesPanel
from gui.evaluate.jobs import export_job


class EvaluateTab(QTabWidget):
    inspectRequested = Signal(str, str, str)
    finetuneRequested = Signal(object, str)
    message = Signal(str, str)
    exported = Signal(object)  # core.evaluate.export.ExportReport
    exportFailed = Signal(str)

    def __init__(self, hub, parent=None):
        super().__init__(parent)
        self.setDocumentMode(True)
        self.evaluate_page = EvaluatePanel(hub)
        self.issues = IssuesPanel()
        self.compare = CompareView()
        self.addTab(self.evaluate_page, "Evaluate")
        self.addTab(self.issues, "Label issues")
        self.addTab(self.compare, "Compare")
        self.compare.checkpoint_provider = self.evaluate_page.checkpoint_file
        self.evaluate_page.evaluated.connect(lambda result: setattr(self.compare, "current", result))
        self.evaluate_page.imageClicked.connect(self.inspectRequested)
        self.compare.finetuneRequested.connect(self.finetuneRequested)
        for page in (self.evaluate_page, self.issues, self.compare):
            page.message.connect(self.message)
        self.export_task = BackgroundTask(self, imports=("core.evaluate.export",))
        self.export_task.finished.connect(self.exported)
        self.export_task.failed.connect(self.exportFailed)

    def set_run_dir_provider(self, provider) -> None:
        """Where "Best of current run" looks: `provider()` -> the current run folder, or None."""
        self.evaluate_page.run_dir_provider = provider

    def set_dataset(self, root: str) -> None:
        """A folder dataset the Label issues page offers (it keeps one the user typed)."""
        self.issues.set_dataset(root)

    def show_evaluation(self, folder: str) -> None:
        """The Evaluate page showing a saved evaluation folder (read off the GUI thread)."""
        self.setCurrentWidget(self.evaluate_page)
        self.evaluate_page.open_evaluation(folder)

    def show_run_evaluation(self, run_dir: str) -> None:
        """The evaluation a run wrote at its end (RUN/eval), when it has one (quietly nothing otherwise)."""
        self.evaluate_page.show_run_evaluation(run_dir)

    def export_model(self, checkpoint, fmt: str, out: str) -> None:
        """Export (and verify) on the worker primitive; `exported(report)` or `exportFailed(text)` follows."""
        self.export_task.submit(export_job(checkpoint, fmt, out))

    def shutdown(self) -> None:
        self.evaluate_page.shutdown()
        self.issues.shutdown()
        self.compare.shutdown()
        self.export_task.shutdown()
