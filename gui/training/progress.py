"""Run progress: one bar for the epoch, one for the whole run, with ETA and images per second."""
from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFormLayout, QLabel, QProgressBar, QWidget


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.epoch_bar = QProgressBar()
        self.run_bar = QProgressBar()
        for bar in (self.epoch_bar, self.run_bar):
            bar.setRange(0, 1000)
            bar.setValue(0)
            bar.setTextVisible(True)
        self.epoch_bar.setFormat("")
        self.run_bar.setFormat("")
        self.speed_label = QLabel("–")
        self.eta_label = QLabel("–")
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addRow("Epoch", self.epoch_bar)
        layout.addRow("Run", self.run_bar)
        layout.addRow("Speed", self.speed_label)
        layout.addRow("Time left", self.eta_label)

    def reset(self) -> None:
        self.epoch_bar.setValue(0)
        self.run_bar.setValue(0)
        self.epoch_bar.setFormat("")
        self.run_bar.setFormat("")
        self.speed_label.setText("–")
        self.eta_label.setText("–")

    @Slot(dict)
    def update_from_report(self, r: dict) -> None:
        batches, total = max(1, r["batches_per_epoch"]), max(1, r["total_steps"])
        self.epoch_bar.setValue(int(1000 * r["batch"] / batches))
        self.epoch_bar.setFormat(f"Epoch {r['epoch']}/{r['epochs']}: batch {r['batch']}/{batches}")
        self.run_bar.setValue(int(1000 * r["step"] / total))
        self.run_bar.setFormat(f"Step {r['step']}/{total} (%p%)")
        self.speed_label.setText(f"{r['images_per_sec']:,.0f} images/s")
        self.eta_label.setText(f"{format_duration(r.get('eta_s'))} (elapsed {format_duration(r.get('elapsed_s'))})")

    def finish(self, completed: bool) -> None:
        if completed:
            self.epoch_bar.setValue(1000)
            self.run_bar.setValue(1000)
            self.run_bar.setFormat("Done (%p%)")
        self.eta_label.setText("–")
