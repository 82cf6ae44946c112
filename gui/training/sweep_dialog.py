"""New sweep…: which settings vary (a range "LOW .. HIGH [log]" or a list "a, b, c"), how many trials, how many at
once, the sampler, the metric and whether poor trials stop early; Start writes the definition into the sweep
folder (under the runs root: sweep-<name>/spec.json) and starts `layerscope sweep` on it in its own process
(core.tuning.sweep.process). The dialog lists the trials as their run folders appear and fill, and the
parameters' importances once the sweep has ended. Stop asks the sweep to stop: its running trials are queued
again, and Start on the same name goes on.

Each trial is an ordinary run folder: the Runs tab lists them, named <sweep>/<trial>, and compares them.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from core.runs.layout import SWEEP_PREFIX, SweepLayout
from gui.concurrent import BackgroundTask

POLL_MS = 1000
# (setting, what it tries by default, varied by default): the settings a first sweep most often varies.
PARAMS = (("lr", "1e-4 .. 1e-1 log", True), ("batch_size", "16, 32, 64", False),
          ("weight_decay", "1e-6 .. 1e-2 log", False), ("optimizer", "adam, sgd", False),
          ("momentum", "0.8 .. 0.99", False), ("epochs", "2, 4", False), ("model", "cnn, mlp", False))
SAMPLERS = (("tpe", "TPE (learns from finished trials)"), ("random", "Random"), ("grid", "Grid (every combination of the lists)"))
METRICS = ("val_acc", "val_loss", "train_acc", "train_loss")
TRIAL_COLUMNS = ("Trial", "Status", "Epochs", "Best val acc")


def _item(text: str, editable: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if not editable:
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class SweepDialog(QDialog):
    sweepStarted = Signal(str)  # the sweep folder

    def __init__(self, runs_root: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New sweep")
        self.setObjectName("sweepDialog")
        self.resize(760, 640)
        self.runs_root = Path(runs_root)
        self.base: dict = {}
        self.process = None
        self.sweep_dir: Path | None = None
        self.rows: list[dict] = []
        self.importances: dict[str, float] = {}
        self.reader = BackgroundTask(self, imports=("core.tuning.sweep",))
        self.reader.finished.connect(self._on_read)
        self.reader.failed.connect(lambda text: self.status.setText(f"Cannot read the trials: {text}"))
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

        self.params = QTableWidget(len(PARAMS), 3)
        self.params.setHorizontalHeaderLabels(["Vary", "Setting", "Values (LOW .. HIGH [log], or a, b, c)"])
        self.params.verticalHeader().hide()
        self.params.horizontalHeader().setStretchLastSection(True)
        for row, (name, values, on) in enumerate(PARAMS):
            vary = _item("")
            vary.setFlags(vary.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            vary.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.params.setItem(row, 0, vary)
            self.params.setItem(row, 1, _item(name))
            self.params.setItem(row, 2, _item(values, editable=True))
        self.params.resizeColumnsToContents()

        self.name = QLineEdit(time.strftime("%Y%m%d-%H%M"))
        self.trials = QSpinBox()
        self.trials.setRange(1, 10_000)
        self.trials.setValue(8)
        self.parallel = QSpinBox()
        self.parallel.setRange(1, 64)
        self.sampler = QComboBox()
        for key, text in SAMPLERS:
            self.sampler.addItem(text, key)
        self.metric_choice = QComboBox()
        self.metric_choice.addItems(METRICS)
        self.pruning = QCheckBox("Stop poor trials early (median of the trials so far)")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Trials", self.trials)
        form.addRow("At once", self.parallel)
        form.addRow("Sampler", self.sampler)
        form.addRow("Metric", self.metric_choice)
        form.addRow("", self.pruning)

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the running trials (each saves its last checkpoint and is queued again)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        self.status = QLabel("Each trial trains with the Train tab's settings and the values the sweep picks.")
        self.status.setWordWrap(True)

        self.trial_table = QTableWidget(0, len(TRIAL_COLUMNS))
        self.trial_table.setHorizontalHeaderLabels(TRIAL_COLUMNS)
        self.trial_table.verticalHeader().hide()
        self.trial_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.trial_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.importance_label = QLabel()
        self.importance_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Settings that vary"))
        layout.addWidget(self.params, 2)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Trials"))
        layout.addWidget(self.trial_table, 3)
        layout.addWidget(self.importance_label)

    # ---- the definition ------------------------------------------------------------------------------
    def set_base(self, settings: dict) -> None:
        """The run settings each trial starts from (the Train tab's, RunSettings.to_dict())."""
        self.base = settings

    def set_param(self, name: str, values: str, vary: bool = True) -> None:
        for row in range(self.params.rowCount()):
            if self.params.item(row, 1).text() == name:
                self.params.item(row, 2).setText(values)
                self.params.item(row, 0).setCheckState(Qt.CheckState.Checked if vary else Qt.CheckState.Unchecked)

    def spec(self) -> dict:
        """The sweep definition the dialog shows; SweepSpecError names a value that cannot be read."""
        from core.tuning.sweep.space import param_from_text

        params = {}
        for row in range(self.params.rowCount()):
            if self.params.item(row, 0).checkState() == Qt.CheckState.Checked:
                name = self.params.item(row, 1).text()
                params[name] = param_from_text(name, self.params.item(row, 2).text())
        return {"name": self.name.text().strip(), "base": self.base, "params": params,
                "trials": self.trials.value(), "sampler": self.sampler.currentData(), "metric": self.metric_choice.currentText(),
                "pruner": "median" if self.pruning.isChecked() else "none"}

    def folder_for(self, name: str) -> Path:
        return self.runs_root / (SWEEP_PREFIX + re.sub(r"[^\w.-]+", "-", name).strip("-."))

    # ---- running it ----------------------------------------------------------------------------------
    def start(self) -> bool:
        """Write the definition and start the sweep's process; False (with the reason shown) when it cannot."""
        from core.errors import LayerscopeError
        from core.tuning.sweep.process import start_sweep, write_spec

        if self.running():
            return False
        try:
            spec = self.spec()
            if not spec["name"]:
                raise ValueError("give the sweep a name (its folder is sweep-<name> under the runs folder)")
            folder = self.folder_for(spec["name"])
            write_spec(spec, folder)
            self.process = start_sweep(folder, trials=self.trials.value(), parallel=self.parallel.value())
        except (LayerscopeError, ValueError, OSError) as exc:
            self.status.setText(f"Cannot start the sweep: {exc}")
            return False
        self.sweep_dir = folder
        self.status.setText(f"Running in its own process; trials are saved in {folder}")
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.timer.start()
        self.sweepStarted.emit(str(folder))
        return True

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        from core.tuning.sweep.process import stop_sweep

        if self.running():
            stop_sweep(self.process)
            self.status.setText("Stopping: the running trials save their last checkpoint and are queued again…")

    def poll(self) -> None:
        if self.sweep_dir is None or self.reader.busy:
            return
        folder, process = self.sweep_dir, self.process

        def job(ctx):
            from core.tuning.sweep.process import read_importances, trial_rows

            ended = process is None or process.poll() is not None  # before reading: the last rows are final
            return trial_rows(folder), read_importances(folder) if ended else {}, ended, \
                None if process is None else process.returncode

        self.reader.submit(job)

    def _on_read(self, result) -> None:
        self.rows, self.importances, ended, code = result
        self._fill()
        if ended:
            self.timer.stop()
            self.start_button.setEnabled(True)
            self.stop_button.setEnabled(False)
            done = sum(r["status"] == "finished" for r in self.rows)
            how = "" if code in (None, 0) else f" (exit code {code}: its log is {SweepLayout(self.sweep_dir).log})"
            self.status.setText(f"The sweep ended{how}: {done} of {len(self.rows)} trials finished; their run "
                                f"folders are in {self.sweep_dir}")

    def _fill(self) -> None:
        names = sorted({k for r in self.rows for k in r["values"]})
        self.trial_table.setColumnCount(len(TRIAL_COLUMNS) + len(names))
        self.trial_table.setHorizontalHeaderLabels([*TRIAL_COLUMNS, *names])
        self.trial_table.setRowCount(len(self.rows))
        for i, row in enumerate(self.rows):
            acc = row["best_val_acc"]
            cells = [str(row["trial"]), row["status"], row["epochs"], "" if acc is None else f"{acc:.3f}",
                     *(_short(row["values"].get(n, "")) for n in names)]
            for j, text in enumerate(cells):
                self.trial_table.setItem(i, j, _item(text))
        if self.importances:
            ranked = sorted(self.importances.items(), key=lambda kv: -kv[1])
            self.importance_label.setText("Importance (how much of the metric's variation each setting explains): "
                                          + ", ".join(f"{k} {v:.0%}" for k, v in ranked))

    def shutdown(self) -> None:
        """Stop reading; a running sweep goes on in its own process (its trials show in the Runs tab)."""
        self.timer.stop()
        self.reader.shutdown()
