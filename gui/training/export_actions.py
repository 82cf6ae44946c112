"""Export what the Train tab shows: its plots to PNG / SVG, the shown run's metrics to CSV."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from gui.concurrent import BackgroundTask
from gui.plotting.export import FILTER, export_plot


class TrainExports(QObject):
    def __init__(self, plots, log, parent: QObject | None = None):
        super().__init__(parent)
        self.plots, self.log = plots, log
        # A metrics file can be large: it is read off the GUI thread, one export at a time.
        self.task = BackgroundTask(self, imports=())
        self.task.finished.connect(lambda text: self.log.append("info", text))
        self.task.failed.connect(lambda text: self.log.append("error", f"Export failed: {text}"))

    def export_plots(self, parent: QWidget | None, out: str | None = None) -> None:
        if out is None:
            out, _ = QFileDialog.getSaveFileName(parent, "Export plots", str(Path.home() / "training.png"), FILTER)
            if not out:
                return
        try:  # painting: on the GUI thread
            self.log.append("info", f"Saved the plots to {export_plot(self.plots.view.ci, out)}")
        except OSError as exc:
            self.log.append("error", f"{out}: cannot write the plots ({exc.strerror or exc})")

    def export_csv(self, parent: QWidget | None, run: Path | None, out: str | None = None) -> None:
        from core.runs.metrics_csv import write_metrics_csv

        if run is None:
            self.log.append("warning", "No run to export yet: train or follow one first")
            return
        if out is None:
            out, _ = QFileDialog.getSaveFileName(parent, "Export metrics", str(run / "metrics.csv"), "CSV (*.csv)")
            if not out:
                return
        self.task.add(lambda _ctx: f"Wrote {write_metrics_csv(run, out)} rows of metrics to {out}")
