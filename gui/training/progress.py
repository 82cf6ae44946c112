"""Run progress: one bar for the epoch, one for the whole run, with ETA and images per second.

The run measures its speed, elapsed time and ETA on a clock that stands still while it is paused
(core.training.clock); while it is paused, "Time left" says so instead of counting."""
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
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setVisible(False)
        self._run: dict = {}
        self._first: tuple[int, float | None] = (0, None)  # step and time of the run's start record
        self._eta_text = "–"  # what "Time left" says while the run is not paused
        self._paused = False
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addRow("Epoch", self.epoch_bar)
        layout.addRow("Run", self.run_bar)
        layout.addRow("Speed", self.speed_label)
        layout.addRow("Time left", self.eta_label)
        layout.addRow(self.status_label)

    def reset(self) -> None:
        self.epoch_bar.setValue(0)
        self.run_bar.setValue(0)
        self.epoch_bar.setFormat("")
        self.run_bar.setFormat("")
        self.speed_label.setText("–")
        self._set_eta("–")
        self._run, self._first = {}, (0, None)

    @Slot(list)
    def add_records(self, records: list) -> None:
        """Bars, speed and ETA from core.runs.records Records (own run or followed file): the run's shape comes
        from its "start" record, the position from the last step record, speed and ETA from the last step
        that carries them (else estimated from the steps' times)."""
        last_step = timed = final = None
        for record in records:
            kind = record.get("kind")
            if kind == "start":
                self._run = {k: record.get(k) for k in ("epochs", "batches_per_epoch", "total_steps")}
                self._first = (record.get("step") or 0, record.get("time"))
            elif kind == "step":
                last_step = record
                if record.get("images_per_sec") is not None:
                    timed = record
            elif kind in ("end", "stopped", "error", "diverged"):
                final = kind
            elif kind in ("resume",):
                final = None
        if last_step is not None:
            self._show(last_step, timed)
        if final is not None:
            self.finish(completed=final == "end")

    def _show(self, r: dict, timed: dict | None) -> None:
        run = {**self._run, **{k: r[k] for k in ("epochs", "batches_per_epoch", "total_steps") if r.get(k)}}
        self._run = run
        batches, total = max(1, run.get("batches_per_epoch") or 1), max(1, run.get("total_steps") or 1)
        step, batch = r.get("step") or 0, r.get("batch") or 0
        self.epoch_bar.setValue(int(1000 * min(batch, batches) / batches))
        self.epoch_bar.setFormat(f"Epoch {r.get('epoch')}/{run.get('epochs')}: batch {batch}/{batches}")
        self.run_bar.setValue(int(1000 * min(step, total) / total))
        self.run_bar.setFormat(f"Step {step}/{total} (%p%)")
        elapsed = eta = None
        if timed is not None:
            self.speed_label.setText(f"{timed['images_per_sec']:,.0f} images/s")
            elapsed, eta = timed.get("elapsed_s"), timed.get("eta_s")
        if eta is None and self._first[1] is not None and r.get("time") and step > self._first[0]:
            elapsed = r["time"] - self._first[1]  # a writer that does not say: estimate from its clock
            eta = (total - step) * elapsed / (step - self._first[0])
        if eta is not None:
            self._set_eta(f"{format_duration(eta)} (elapsed {format_duration(elapsed)})")

    def set_paused(self, paused: bool) -> None:
        """While the run is paused, "Time left" says "paused" (nothing counts down); after, the last ETA."""
        self._paused = paused
        self._set_eta(self._eta_text)

    def _set_eta(self, text: str) -> None:
        self._eta_text = text
        self.eta_label.setText("paused" if self._paused else text)

    def set_status(self, text: str) -> None:
        """The followed run's state (running / paused / finished / stopped / failed / not responding)."""
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))

    def finish(self, completed: bool) -> None:
        if completed:
            self.epoch_bar.setValue(1000)
            self.run_bar.setValue(1000)
            self.run_bar.setFormat("Done (%p%)")
        self._paused = False
        self._set_eta("–")
