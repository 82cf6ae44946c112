"""Compare two evaluations (before / after a fine-tune, or any two run eval folders) and start a fine-tune.

A and B are evaluation folders (RUN/eval, or any folder `layerscope evaluate --out` wrote) or the evaluation
just shown on the Evaluate page. The comparison (core/evaluate/compare.py) runs on the worker primitive.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from core.runs.layout import BEST
from gui.concurrent import BackgroundTask
from gui.evaluate.gallery import Gallery
from gui.evaluate.heatmap import ConfusionHeatmap
from gui.evaluate.jobs import EVAL_IMPORTS, compare_job, finetune_settings_job

CURRENT = "(the evaluation on the Evaluate page)"
NO_COMPARISON = ("Pick two evaluations of the same images (A before, B after) and press Compare: the difference of "
                 "their confusion matrices appears here, warm where B makes more errors")


class CompareView(QWidget):
    message = Signal(str, str)
    finetuneRequested = Signal(object, str)  # core RunSettings, the checkpoint whose weights it starts from

    def __init__(self, parent=None):
        super().__init__(parent)
        self.current = None  # the Evaluate page's latest EvalResult
        self.checkpoint_provider = lambda: None  # the Evaluate page's checkpoint file, set by the tab
        self.comparison = None
        self.task = BackgroundTask(self, imports=EVAL_IMPORTS)
        self.task.finished.connect(self.show_comparison)
        self.task.failed.connect(lambda text: self._say("error", f"Cannot compare: {text}"))
        self.finetune_task = BackgroundTask(self, imports=("core.training.finetune",))
        self.finetune_task.finished.connect(lambda pair: self.finetuneRequested.emit(*pair))
        self.finetune_task.failed.connect(lambda text: self._say("error", f"Cannot fine-tune: {text}"))
        self._build()

    def _build(self) -> None:
        grid = QGridLayout()
        self.paths = {}
        for row, side in enumerate(("A", "B")):
            edit = QLineEdit()
            edit.setPlaceholderText("an evaluation folder (RUN/eval), or use the current evaluation")
            browse = QPushButton("…")
            browse.clicked.connect(lambda _=False, e=edit: self._choose(e))
            use = QPushButton("Use current")
            use.clicked.connect(lambda _=False, e=edit: e.setText(CURRENT))
            grid.addWidget(QLabel(f"{side} ({'before' if side == 'A' else 'after'})"), row, 0)
            grid.addWidget(edit, row, 1)
            grid.addWidget(browse, row, 2)
            grid.addWidget(use, row, 3)
            self.paths[side] = edit
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.compare)
        self.finetune_button = QPushButton("Fine-tune with corrections")
        self.finetune_button.setToolTip("A new run from the checkpoint's weights (fresh optimizer, learning rate / 10) "
                                        "on the corrected data; compare its evaluation with this one afterwards")
        self.finetune_button.clicked.connect(self.request_finetune)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        buttons.addWidget(self.finetune_button)
        self.summary = QLabel("Pick two evaluations of the same data.")
        self.summary.setWordWrap(True)
        self.heatmap = ConfusionHeatmap(diverging=True, empty_text=NO_COMPARISON)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["class", "recall A", "recall B", "recall Δ", "F1 Δ"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.became_right = Gallery(corrections=False)  # thumbnails, not bare file names
        self.became_wrong = Gallery(corrections=False)
        lists = QWidget()
        lists_layout = QVBoxLayout(lists)
        lists_layout.setContentsMargins(0, 0, 0, 0)
        self.right_title, self.wrong_title = QLabel("Became right"), QLabel("Became wrong")
        for widget in (self.right_title, self.became_right, self.wrong_title, self.became_wrong):
            lists_layout.addWidget(widget)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>Confusion difference</b> (B − A)"))
        left_layout.addWidget(self.heatmap, 3)
        left_layout.addWidget(self.table, 2)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(lists)
        splitter.setSizes([640, 520])
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

    def _choose(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Evaluation folder (summary.json + per_image.csv)")
        if folder:
            edit.setText(folder)

    def _say(self, level: str, text: str) -> None:
        self.summary.setText(text)
        self.message.emit(level, text)

    def _side(self, side: str):
        text = self.paths[side].text().strip()
        if text == CURRENT:
            return self.current
        return text if text and Path(text).is_dir() else None

    def compare(self) -> None:
        a, b = self._side("A"), self._side("B")
        if a is None or b is None:
            self._say("warning", "Pick two evaluation folders (or evaluate first and use the current one)")
            return
        self.summary.setText("Comparing…")
        self.task.submit(compare_job(a, b))

    def show_comparison(self, outcome) -> None:
        comparison, images = outcome
        self.comparison = comparison
        extra = (f" ({comparison.only_a} only in A, {comparison.only_b} only in B: left out)"
                 if comparison.only_a or comparison.only_b else "")
        self.summary.setText(f"top-1 {comparison.top1[0]:.1%} → {comparison.top1[1]:.1%} "
                             f"(<b>{comparison.top1_delta * 100:+.1f} points</b>) on {comparison.common} common images"
                             + extra)
        self.heatmap.set_matrix(comparison.confusion_delta, comparison.classes)
        self.table.setRowCount(len(comparison.per_class))
        for row, entry in enumerate(comparison.per_class):
            cells = [entry["class"], f"{entry['recall_a']:.3f}", f"{entry['recall_b']:.3f}",
                     f"{entry['recall_delta']:+.3f}", f"{entry['f1_delta']:+.3f}"]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        for gallery, files in ((self.became_right, comparison.became_right), (self.became_wrong, comparison.became_wrong)):
            gallery.show_images(files, None, images=images)  # the full path in each tooltip
        self.right_title.setText(f"Became right: {len(comparison.became_right)}")
        self.wrong_title.setText(f"Became wrong: {len(comparison.became_wrong)}")

    def request_finetune(self) -> None:
        checkpoint = self.checkpoint_provider()
        if not checkpoint:
            self._say("warning", "Fine-tuning starts from a checkpoint file: pick one on the Evaluate page "
                                 f"(a file, or the current run's {BEST})")
            return
        self.finetune_task.submit(finetune_settings_job(checkpoint))

    def shutdown(self) -> None:
        self.task.shutdown()
        self.finetune_task.shutdown()
        self.became_right.shutdown()
        self.became_wrong.shutdown()
