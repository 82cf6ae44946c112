""""Would more photos help?": `layerscope data-curve` with the current settings in a background child process
(ordinary run folders grouped under one folder), then its points and fitted power law on a log axis, the
2x / 4x extrapolations with their band, and the sentence."""
from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QProcess, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.datacurve.fit import FORMULAS, curve_value

FRACTIONS = "0.1,0.25,0.5,1"


class DataCurveView(QWidget):
    message = Signal(str, str)
    done = Signal(str)  # the curve's folder

    def __init__(self, parent=None):
        super().__init__(parent)
        self.settings_provider: Callable[[], dict] | None = None  # the current run settings (set by the window)
        self.out_root: Path | None = None  # default: the app's runs root
        self.process: QProcess | None = None
        self.out = ""
        self.sentence = QLabel("Trains the current settings on 10, 25, 50 and 100 % of the training photos, each "
                               "for as many training steps as the full run (a smaller share runs more epochs).")
        self.sentence.setWordWrap(True)
        self.sentence.setStyleSheet("font-size: 14px;")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.plot = pg.PlotWidget()
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "training images per class (log)")
        self.plot.setLabel("left", "validation accuracy (%)")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.addLegend(offset=(-10, 10))
        self.plot.setMinimumHeight(220)
        row = QHBoxLayout()
        row.addWidget(self.sentence, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.plot, 1)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def start(self) -> None:
        from core.io.atomic import write_text_atomic
        from core.runs.location import default_runs_root, new_run_dir

        if self.running:
            return
        if self.settings_provider is None:
            self.sentence.setText("The window has no run settings to train with.")
            return
        try:
            settings = self.settings_provider()
        except Exception as exc:  # a bad field in the form: its own message names it
            self.sentence.setText(f"Cannot use the current settings: {exc}")
            return
        out = new_run_dir(Path(self.out_root or default_runs_root()), "data-curve", "photos")
        out.mkdir(parents=True, exist_ok=True)
        self.out = str(out)
        settings_file = write_text_atomic(out / "settings.json", json.dumps(settings, indent=2))
        process = self.process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.setWorkingDirectory(str(Path(__file__).resolve().parents[2]))
        process.readyRead.connect(self._output)
        process.finished.connect(self._finished)
        self.cancel_button.setEnabled(True)
        self.sentence.setText("Training the first fraction…")
        process.start(sys.executable, ["-m", "core.cli", "data-curve", "--settings", str(settings_file),
                                       "--fractions", FRACTIONS, "--out", self.out])

    def _output(self) -> None:
        text = bytes(self.process.readAll()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.startswith("data-curve: "):
                self.sentence.setText(line.removeprefix("data-curve: ").capitalize() + "…")

    def _finished(self, code: int, _status) -> None:
        self.cancel_button.setEnabled(False)
        if code != 0:
            self.sentence.setText(f"The data-size curve stopped (exit {code}); its runs are in {self.out}.")
            self.message.emit("warning", self.sentence.text())
            return
        self.show_result(self.out)
        self.done.emit(self.out)

    def cancel(self) -> None:
        """SIGTERM first: the command stops its worker processes at their next step (core.datacurve.runner);
        killed when it has not ended 10 s later."""
        if self.running:
            self.process.terminate()
            QTimer.singleShot(10_000, lambda p=self.process: p.state() != QProcess.ProcessState.NotRunning
                              and p.kill())

    def shutdown(self) -> None:
        if self.running:
            self.process.terminate()
            if not self.process.waitForFinished(5000):
                self.process.kill()
                self.process.waitForFinished(5000)

    def show_result(self, folder: str) -> None:
        """Plot a finished curve's folder (points.csv + curve.json)."""
        folder = Path(folder)
        try:
            summary = json.loads((folder / "curve.json").read_text(encoding="utf-8"))
            rows = list(csv.DictReader((folder / "points.csv").open(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            self.sentence.setText(f"{folder}: cannot read the curve ({exc})")
            return
        n = np.array([float(r["images_per_class"]) for r in rows])
        acc = np.array([100 * float(r["val_accuracy"]) for r in rows])
        self.plot.clear()
        self.plot.plot(n, acc, pen=None, symbol="o", symbolSize=9, symbolBrush="#1f77b4", name="measured")
        fit = summary.get("fit")
        if fit:
            grid = np.geomspace(max(n.min(), 1e-3), fit["n_per_class"] * 4, 80)
            form = fit.get("form", "power") if fit.get("form") in FORMULAS else "power"  # older files: the power law
            curve = 100 * curve_value(form, grid, fit["a"], fit["b"], fit["c"], fit.get("chance", 0.0))
            self.plot.plot(grid, curve, pen=pg.mkPen("#ff7f0e", width=2), name=f"{form} fit")
            xs, ys, lows, highs = [], [], [], []
            for extra in fit["extrapolations"].values():
                if extra.get("band"):
                    xs.append(math.log10(extra["n_per_class"]))
                    ys.append(100 * extra["accuracy"])
                    lows.append(100 * (extra["accuracy"] - extra["band"][0]))
                    highs.append(100 * (extra["band"][1] - extra["accuracy"]))
            if xs:
                self.plot.addItem(pg.ErrorBarItem(x=np.array(xs), y=np.array(ys), top=np.array(highs),
                                                  bottom=np.array(lows), beam=0.05, pen=pg.mkPen("#d62728", width=2)))
                self.plot.plot(10 ** np.array(xs), ys, pen=None, symbol="s", symbolBrush="#d62728",
                               name="2x, 4x (90 % band)")
        needs = summary.get("classes_needing_photos") or []
        text = summary.get("sentence", "")
        text = text[:1].upper() + text[1:] + "." if text else ""
        gaining = [r for r in needs if r["gain_2x_points"] > 0]
        if gaining:
            text += " More photos help most for: " + ", ".join(f"{r['class']} (+{r['gain_2x_points']:g} points)"
                                                            for r in gaining)
        self.sentence.setText(text)

