"""The Concepts view: does a class rely on a concept at a layer? A concept test (TCAV with Captum; core.featurevis
.concepts) of the run's checkpoint for a class and a layer against the concepts ticked: the ones the app draws
(stripes, dots, checkerboards, solid colours, noise; the usual five ticked) and folders of images the user adds.
Each score is tested against random concepts over several runs; the table says "significant" or "not
significant" plainly, and the chart shows each concept's score beside its random runs' spread. The test runs on
a BackgroundTask (progress, Cancel); its table, chart and concept vectors are written to RUN/featurevis/concepts/.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import catalog
from core.featurevis.concept_images import DEFAULT_CONCEPTS
from gui.concurrent import BackgroundTask

# The drawn concepts offered: the usual five, ticked, then a few more (concept_images is numpy only: no torch).
MORE_CONCEPTS = ("stripes-0", "stripes-45", "stripes-90", "stripes-135", "solid-red", "solid-green", "solid-blue")
COLUMNS = ("Concept", "Score", "Random", "p", "Result")
SIGNIFICANT, NOT_SIGNIFICANT = QColor("#2e7d32"), QColor("#8a8a8a")


def _spin(setting: catalog.NumberSetting) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(int(setting.minimum), int(setting.maximum))
    spin.setValue(int(setting.default))
    spin.setToolTip(setting.help)
    return spin


class ConceptsView(QWidget):
    message = Signal(str)
    opened = Signal()  # classes and layers known (tests wait on it)
    resultShown = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.run_dir: str | None = None
        self.checkpoint: str | None = None
        self.result = None  # the ConceptResult shown
        self._open_task = BackgroundTask(self, imports=())
        self._open_task.finished.connect(self._on_opened)
        self._open_task.failed.connect(self._on_failed)
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_result)
        self._task.failed.connect(self._on_failed)
        self._task.progress.connect(self._on_progress)
        self._task.cancelled.connect(lambda: self._running(False, "Cancelled."))

        self.classes, self.layers = QComboBox(), QComboBox()
        self.random_runs, self.images = _spin(catalog.CONCEPT_RANDOM_RUNS), _spin(catalog.CONCEPT_IMAGES)
        self.concepts = QListWidget()
        self.concepts.setToolTip("ticked concepts are tested; drawn ones get new pictures in every run")
        for name in (*DEFAULT_CONCEPTS, *MORE_CONCEPTS):
            self._add_concept(name, name, name in DEFAULT_CONCEPTS)
        add = QPushButton("Add concept folder…")
        add.setToolTip("a folder of images that show one concept (tens of them), e.g. photos of stripes")
        add.clicked.connect(self.choose_folder)
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.run_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._task.cancel)
        self.cancel_button.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("Open a run to test which concepts its classes rely on.")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._show_verdict)
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.chart = pg.PlotWidget()
        self.chart.setMinimumHeight(180)
        self.chart.setLabel("left", "TCAV score")
        self.chart.setYRange(0, 1.05)
        self.chart.addLegend(offset=(-10, 10))

        choosers = QHBoxLayout()
        for label, widget in (("Class", self.classes), ("Layer", self.layers), (catalog.CONCEPT_RANDOM_RUNS.label, self.random_runs),
                              (catalog.CONCEPT_IMAGES.label, self.images)):
            choosers.addWidget(QLabel(label))
            choosers.addWidget(widget, 1 if isinstance(widget, QComboBox) else 0)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("Concepts"))
        ll.addWidget(self.concepts, 1)
        ll.addWidget(add)
        right = QSplitter(Qt.Orientation.Vertical)
        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.table, 1)
        tl.addWidget(self.verdict)
        right.addWidget(table_box)
        right.addWidget(self.chart)
        right.setStretchFactor(0, 2)  # the table's rows readable, the chart below
        right.setStretchFactor(1, 3)
        self.table.setMinimumHeight(170)
        middle = QSplitter()
        middle.addWidget(left)
        middle.addWidget(right)
        middle.setStretchFactor(1, 3)
        actions = QHBoxLayout()
        actions.addWidget(self.run_button)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(choosers)
        layout.addWidget(middle, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)

    # ---- the run and its checkpoint -------------------------------------------------------------------
    def open_run(self, run_dir: str) -> None:
        self.run_dir, self.checkpoint = str(run_dir), None
        self.run_button.setEnabled(False)
        self._task.cancel()

        def job(_ctx):
            from core.checkpoints.checkpoint import load_checkpoint
            from core.dossier.run_dossier import run_checkpoint
            from core.featurevis.units import visualisable_layers
            from core.models.hooks import last_linear

            path = run_checkpoint(run_dir)
            ckpt = load_checkpoint(path)
            model = ckpt.build_model()
            head = last_linear(model)
            layers = [n for n in visualisable_layers(model) if head is None or n != head[0]]
            convs = [n for n in layers if type(dict(model.named_modules())[n]).__name__ == "Conv2d"]
            return str(path), list(ckpt.classes), layers, (convs or layers or [None])[-1]
        self._open_task.submit(job)

    def _on_opened(self, result) -> None:
        self.checkpoint, classes, layers, default_layer = result
        for combo, items in ((self.classes, classes), (self.layers, layers)):
            combo.clear()
            combo.addItems(items)
        if default_layer is not None:
            self.layers.setCurrentText(default_layer)
        self.run_button.setEnabled(bool(classes and layers))
        self.status.setText(f"Pick a class and a layer (the last conv layer is a good start), tick concepts, "
                            f"Run. The class's images come from the run's validation images; results are saved "
                            f"in {Path(self.run_dir).name}/featurevis/concepts/.")
        self.opened.emit()

    # ---- concepts -------------------------------------------------------------------------------------
    def _add_concept(self, label: str, spec: str, checked: bool) -> QListWidgetItem:
        item = QListWidgetItem(label)
        item.setData(Qt.ItemDataRole.UserRole, spec)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        item.setToolTip(spec)
        self.concepts.addItem(item)
        return item

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of images showing one concept")
        if folder:
            self.add_concept_folder(folder)

    def add_concept_folder(self, folder: str) -> None:
        self._add_concept(f"{Path(folder).name} (folder)", str(folder), True)

    def ticked(self) -> list[str]:
        return [self.concepts.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.concepts.count())
                if self.concepts.item(i).checkState() == Qt.CheckState.Checked]

    def set_ticked(self, specs) -> None:
        wanted = set(specs)
        for i in range(self.concepts.count()):
            item = self.concepts.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in wanted
                               else Qt.CheckState.Unchecked)

    # ---- the test -------------------------------------------------------------------------------------
    def run(self) -> None:
        concepts = self.ticked()
        if self.checkpoint is None or not concepts:
            self.status.setText("Tick at least one concept." if self.checkpoint else "Open a run first.")
            return
        checkpoint, out = self.checkpoint, self._out_dir()
        wanted, layer = self.classes.currentText(), self.layers.currentText()
        runs, count = self.random_runs.value(), self.images.value()

        def job(ctx):
            from core.featurevis.concepts import concept_test

            return concept_test(checkpoint, None, wanted, layer, concepts, out, random_runs=runs,
                                concept_count=count, progress=ctx)
        self._task.submit(job)
        self._running(True, f"Testing '{wanted}' at {layer} against {len(concepts)} concepts, {runs} random runs "
                            "each…")

    def _out_dir(self) -> str:
        from core.runs.layout import RunLayout

        return str(RunLayout(self.run_dir).concepts)

    def _running(self, running: bool, text: str) -> None:
        self.run_button.setEnabled(not running and self.checkpoint is not None)
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running)
        self.status.setText(text)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{text} (%p%)")

    def _on_failed(self, message: str) -> None:
        self._running(False, f"The concept test could not run: {message}")
        self.message.emit(f"concepts: {message}")

    def _on_result(self, result) -> None:
        self.result = result
        significant = [s.concept for s in result.scores if s.significant]
        summary = (f"'{result.class_name}' at {result.layer}: significant for {', '.join(significant)}"
                   if significant else f"'{result.class_name}' at {result.layer}: no concept is significant")
        self._running(False, f"{summary} (p < {result.threshold:.2g}, Bonferroni over {len(result.scores)} "
                             f"concepts; {result.class_images} images of the class). Saved in "
                             f"{Path(self.run_dir).name}/featurevis/concepts/. Click a row for the verdict.")
        for note in result.notes:
            self.message.emit(f"concepts: {note}")
        self._fill_table(result)
        self._draw_chart(result)
        self.resultShown.emit()

    def _fill_table(self, result) -> None:
        self.table.setRowCount(len(result.scores))
        for row, s in enumerate(result.scores):
            random = np.asarray(s.random_scores, dtype=float)
            cells = (s.concept, f"{s.mean:.2f} ± {s.std:.2f}", f"{random.mean():.2f} ± {random.std():.2f}",
                     "-" if s.p_value is None else f"{s.p_value:.2g}",
                     "significant" if s.significant else "not significant")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(s.verdict)
                if col == len(cells) - 1:
                    item.setForeground(QBrush(SIGNIFICANT if s.significant else NOT_SIGNIFICANT))
                self.table.setItem(row, col, item)
        if result.scores:
            self.table.selectRow(0)

    def _draw_chart(self, result) -> None:
        self.chart.clear()
        scores = result.scores
        x = np.arange(len(scores), dtype=float)
        means = np.array([s.mean for s in scores])
        random = [np.asarray(s.random_scores, dtype=float) for s in scores]
        colours = [pg.mkBrush("#3b75af" if s.significant else "#b9c7d6") for s in scores]
        self.chart.addItem(pg.BarGraphItem(x=x - 0.2, height=means, width=0.38, brushes=colours, brush="#3b75af",
                                           name="concept"))  # brush: the legend's swatch
        self.chart.addItem(pg.BarGraphItem(x=x + 0.2, height=[r.mean() for r in random], width=0.38,
                                           brush="#d0d0d0", name="random runs"))
        self.chart.addItem(pg.ErrorBarItem(x=x - 0.2, y=means, height=2 * np.array([s.std for s in scores]),
                                           beam=0.12, pen=pg.mkPen("#333")))
        self.chart.addItem(pg.ErrorBarItem(x=x + 0.2, y=np.array([r.mean() for r in random]),
                                           height=2 * np.array([r.std() for r in random]), beam=0.12,
                                           pen=pg.mkPen("#333")))
        self.chart.getAxis("bottom").setTicks([[(i, s.concept) for i, s in enumerate(scores)]])
        self.chart.setTitle(f"'{result.class_name}' at {result.layer}: dark = significant; whiskers: spread over "
                            f"{result.random_runs} runs")

    def _show_verdict(self) -> None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if self.result is None or not rows or rows[0].row() >= len(self.result.scores):
            self.verdict.setText("")
            return
        self.verdict.setText(self.result.scores[rows[0].row()].verdict)

    def shutdown(self) -> None:
        self._open_task.shutdown()
        self._task.shutdown()
