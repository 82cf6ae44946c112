"""The Evaluate page: pick a checkpoint and a split, evaluate in the background, see the matrix and drill down.

Evaluation runs on the worker primitive (progress, cancel); the GUI thread only draws the result. A click on a
matrix cell fills the gallery with that cell's images, most confident first (EvalResult.cell). When the
checkpoint has a feature bank each image has a familiarity score: the bar above the gallery keeps the
unfamiliar (or familiar) ones and sorts by it; without one it offers to compute the bank, then evaluates again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from core.runs.layout import RunLayout
from gui.concurrent import BackgroundTask
from gui.evaluate.familiarity_bar import FamiliarityBar, chosen_images
from gui.evaluate.gallery import Gallery
from gui.evaluate.heatmap import ConfusionHeatmap
from gui.evaluate.jobs import EVAL_IMPORTS, build_bank_job, corrections_job, evaluate_job, load_evaluation_job

SOURCES = ("Current model", "Best of current run", "Checkpoint file")
SPLITS = ("val", "train", "test", "all")  # core.evaluate.source.SPLITS (torch-free copy)
TOP_K = 5  # the summary's top-k accuracy (core's summary "top5"), named for what it is with fewer classes
NO_EVALUATION = ("No evaluation yet. Press Evaluate (or Open evaluation…): the confusion matrix appears here, and a "
                 "click on a cell shows its images")


def top_k_text(summary: dict) -> str:
    """", top-5 93.1%" -- or nothing when the model has at most 5 classes: then every image is in its top 5
    and the number is always 100 %, which says nothing."""
    classes = len(summary.get("classes", []))
    return f", top-{TOP_K} {summary['top5']:.1%}" if classes > TOP_K else ""


class EvaluatePanel(QWidget):
    evaluated = Signal(object)  # EvalResult
    imageClicked = Signal(str, str, str)  # file, true class, predicted class
    message = Signal(str, str)  # level, text

    def __init__(self, hub, parent=None):
        super().__init__(parent)
        self.hub = hub
        self.run_dir_provider: Callable[[], Path | None] = lambda: None  # set by the window
        self.result = None
        self.task = BackgroundTask(self, imports=EVAL_IMPORTS)
        self.task.progress.connect(self._on_progress)
        self.task.finished.connect(self.show_result)
        self.task.failed.connect(self._on_failed)
        self.run_evaluation = BackgroundTask(self, imports=EVAL_IMPORTS)  # a run's RUN/eval, shown if there is one
        self.run_evaluation.finished.connect(self._on_run_evaluation)
        self.edits = BackgroundTask(self, imports=("core.data.corrections",))
        self.edits.finished.connect(lambda outcome: self._tell("info", f"Correction saved: {outcome[2]}"))
        self.edits.failed.connect(lambda text: self._tell("error", f"Correction not saved: {text}"))
        self.bank_task = BackgroundTask(self, imports=("core.familiarity.jobs",))
        self.bank_task.finished.connect(self._on_bank_built)
        self.bank_task.failed.connect(self._on_bank_failed)
        self._evaluated = None  # what the shown evaluation evaluated: a checkpoint path or object, or None
        self._cell: tuple[int, int] | None = None
        self._build()

    # ---- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.source = QComboBox()
        self.source.addItems(SOURCES)
        self.checkpoint_path = QLineEdit()
        self.checkpoint_path.setPlaceholderText("checkpoint .pt (for 'Checkpoint file')")
        browse = QPushButton("…")
        browse.clicked.connect(self._choose_checkpoint)
        self.dataset = QLineEdit()
        self.dataset.setPlaceholderText("empty: the data the model was trained on")
        browse_data = QPushButton("…")
        browse_data.clicked.connect(self._choose_dataset)
        self.split = QComboBox()
        self.split.addItems(SPLITS)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button = QPushButton("Open evaluation…")
        self.open_button.setToolTip("Show a saved evaluation folder (RUN/eval, or `layerscope evaluate --out DIR`)")
        self.open_button.clicked.connect(self._choose_evaluation)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setValue(0)
        self.progress.setFormat("no evaluation yet")  # not "0%" for a pass that never started
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.source)
        row.addWidget(self.checkpoint_path, 1)
        row.addWidget(browse)
        form.addRow("Model", row)
        row = QHBoxLayout()
        row.addWidget(self.dataset, 1)
        row.addWidget(browse_data)
        row.addWidget(QLabel("split"))
        row.addWidget(self.split)
        row.addWidget(self.evaluate_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.open_button)
        form.addRow("Data", row)
        form.addRow("", self.progress)

        self.summary = QLabel("No evaluation yet: pick a model and press Evaluate.")
        self.shown_folder: str | None = None  # the saved evaluation on screen, if one is
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.normalise = QCheckBox("Normalise rows")
        self.normalise.toggled.connect(lambda _: self._draw_matrix())
        self.heatmap = ConfusionHeatmap(empty_text=NO_EVALUATION)
        self.heatmap.cellClicked.connect(self.show_cell)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["class", "precision", "recall", "F1", "support"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.gallery_title = QLabel("Click a cell of the matrix to see its images.")
        self.familiarity_bar = FamiliarityBar()
        self.familiarity_bar.changed.connect(self._show_marked_cell)
        self.familiarity_bar.computeRequested.connect(self.compute_familiarity)
        self.gallery = Gallery()
        self.gallery.imageClicked.connect(self._on_image_clicked)
        self.gallery.correctionRequested.connect(self.correct)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Confusion matrix</b>"))
        top.addStretch(1)
        top.addWidget(self.normalise)
        left_layout.addLayout(top)
        left_layout.addWidget(self.heatmap, 3)
        left_layout.addWidget(self.table, 2)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.gallery_title)
        right_layout.addWidget(self.familiarity_bar)
        right_layout.addWidget(self.gallery, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([520, 480])
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

    def _choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Checkpoint to evaluate", "", "Checkpoints (*.pt *.pth)")
        if path:
            self.checkpoint_path.setText(path)
            self.source.setCurrentIndex(SOURCES.index("Checkpoint file"))

    def _choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Labelled folder to evaluate on")
        if folder:
            self.dataset.setText(folder)

    def _choose_evaluation(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Evaluation folder (summary.json + per_image.csv)")
        if folder:
            self.open_evaluation(folder)

    def open_evaluation(self, folder: str) -> None:
        """Show a saved evaluation (read on the worker primitive)."""
        self.summary.setText(f"Reading {folder}…")
        self.shown_folder = str(folder)
        self._evaluated = None
        self.task.submit(load_evaluation_job(folder))

    def show_run_evaluation(self, run_dir: str) -> None:
        """The evaluation a run wrote at its end (RUN/eval), if it has one; silent when it has none, and never
        over an evaluation the user has started."""
        folder = str(RunLayout(run_dir).eval_dir())
        if self.is_busy() or folder == self.shown_folder:
            return

        def job(context):
            from core.evaluate.result import load_evaluation
            from core.evaluate.source import EvaluationError

            try:
                return folder, load_evaluation(folder)
            except EvaluationError:  # no RUN/eval (not finished, stopped, or evaluate_at_end off)
                return folder, None
        self.run_evaluation.submit(job)

    def _on_run_evaluation(self, outcome) -> None:
        folder, result = outcome
        if result is None or self.is_busy():
            return
        self.shown_folder = folder
        self._evaluated = None
        self.show_result(result)
        self.message.emit("info", f"Evaluate shows the run's own evaluation ({folder})")

    def is_busy(self) -> bool:
        """An evaluation the user asked for is running."""
        return not self.evaluate_button.isEnabled()

    # ---- evaluation ----------------------------------------------------------------------------------
    def chosen_checkpoint(self):
        """The Checkpoint object or path to evaluate, or a sentence saying why there is none."""
        source = self.source.currentText()
        if source == "Current model":
            ckpt = self.hub.current()
            return ckpt if ckpt is not None else "There is no current model: train one or open a checkpoint."
        if source == "Best of current run":
            run = self.run_dir_provider()
            best = RunLayout(run).best_checkpoint if run is not None else None
            return str(best) if best is not None else "There is no current run: train one, or pick a checkpoint file."
        path = self.checkpoint_path.text().strip()
        return path or "Pick a checkpoint file first."

    def checkpoint_file(self) -> str | None:
        """The chosen checkpoint as a file (fine-tune and export need one), when it is a file."""
        chosen = self.chosen_checkpoint()
        if isinstance(chosen, str) and Path(chosen).suffix in (".pt", ".pth"):
            return chosen
        provenance = self.hub.provenance()
        path = getattr(provenance, "path", None)
        return str(path) if path else None

    def evaluate(self) -> None:
        chosen = self.chosen_checkpoint()
        if isinstance(chosen, str) and not chosen.endswith((".pt", ".pth")):
            self.summary.setText(chosen)
            return
        dataset, split = self.dataset.text().strip(), self.split.currentText()
        out = None
        run = RunLayout(Path(chosen).parent) if isinstance(chosen, str) else None
        if run is not None and run.config.is_file() and not dataset:
            out = str(run.eval_dir(split))  # beside the run's files
        self.progress.setRange(0, 0)
        self.progress.setFormat("evaluating…")
        self.evaluate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.run_evaluation.cancel()  # the user's evaluation wins over a run's saved one
        self.shown_folder = None
        self._evaluated = chosen
        self.summary.setText("Evaluating…")
        self.task.submit(evaluate_job(chosen, dataset, split, out))

    def cancel(self) -> None:
        self.task.cancel()
        self._idle()
        self.progress.setValue(0)
        self.progress.setFormat("cancelled")
        self.summary.setText("Evaluation cancelled.")

    def _idle(self) -> None:
        self.progress.setRange(0, 100)
        self.evaluate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(text or "%p%")

    def _on_failed(self, text: str) -> None:
        self._idle()
        self.progress.setValue(0)
        self.progress.setFormat("failed")
        self.summary.setText(f"Evaluation failed: {text}")
        self.message.emit("error", f"Evaluation failed: {text}")

    def show_result(self, result) -> None:
        self._idle()
        self.progress.setValue(self.progress.maximum())
        self.result = result
        s = result.summary()
        self.progress.setFormat(f"done: {s['images']} images")  # not "evaluating 150/150" any more
        notes = "; ".join(s["notes"] + [f"{len(s['unreadable'])} unreadable images skipped"] * bool(s["unreadable"]))
        self.summary.setText(f"<b>{s['images']}</b> images of {s['source']}: top-1 <b>{s['top1']:.1%}</b>"
                             f"{top_k_text(s)}, macro F1 {s['macro_f1']:.3f}, ECE {s['ece']:.3f}"
                             + (f"<br>{notes}" if notes else ""))
        self._draw_matrix()
        scores = result.per_class()
        self.table.setRowCount(len(result.classes))
        for i, name in enumerate(result.classes):
            cells = [name, f"{scores['precision'][i]:.3f}", f"{scores['recall'][i]:.3f}", f"{scores['f1'][i]:.3f}",
                     str(int(scores["support"][i]))]
            for c, text in enumerate(cells):
                self.table.setItem(i, c, QTableWidgetItem(text))
        self._show_familiarity_state()
        self.evaluated.emit(result)
        mistakes = result.confusion.copy()
        np.fill_diagonal(mistakes, 0)
        if mistakes.any():  # start on the biggest confusion: usually the first thing to look at
            self.show_cell(*(int(i) for i in np.unravel_index(np.argmax(mistakes), mistakes.shape)))
        else:
            self.gallery.show_images([], [], (-1, -1))
            self.gallery_title.setText("No mistakes. Click a cell of the matrix to see its images.")

    def _draw_matrix(self) -> None:
        if self.result is not None:
            self.heatmap.set_matrix(self.result.confusion, self.result.classes, self.normalise.isChecked())

    def show_cell(self, true_index: int, predicted_index: int) -> None:
        if self.result is None:
            return
        result, bar = self.result, self.familiarity_bar
        self.gallery.classes = list(result.classes)
        self._cell = (true_index, predicted_index)
        members = result.cell(true_index, predicted_index)
        shown = chosen_images(members, result.probs[:, predicted_index], result.familiarity,
                              result.familiarity_threshold, bar.show_choice, bar.order_choice)
        self.heatmap.mark_cell(true_index, predicted_index)
        classes = result.classes
        count = f"<b>{len(shown)}</b> of {len(members)}" if len(shown) != len(members) else f"<b>{len(members)}</b>"
        which = "" if bar.show_choice == "All images" else f" ({bar.show_choice.split()[0].lower()})"
        self.gallery_title.setText(f"{count} images{which} of <b>{classes[true_index]}</b> predicted as "
                                   f"<b>{classes[predicted_index]}</b>, {bar.order_choice.lower()}")
        scores = None if result.familiarity is None else [float(result.familiarity[i]) for i in shown]
        self.gallery.show_images([result.files[i] for i in shown],
                                 [float(result.probs[i, predicted_index]) for i in shown],
                                 (true_index, predicted_index), result.images, scores, result.familiarity_threshold)

    def _show_marked_cell(self) -> None:
        if self._cell is not None:
            self.show_cell(*self._cell)

    # ---- familiarity ---------------------------------------------------------------------------------
    def bank_checkpoint(self) -> str | None:
        """The checkpoint file of the shown evaluation, beside which its feature bank can be stored."""
        evaluated = self._evaluated
        if evaluated is None and self.result is not None:
            evaluated = self.result.checkpoint  # a saved evaluation names the checkpoint it was made with
        path = evaluated if isinstance(evaluated, str) else getattr(evaluated, "source", None)
        return str(path) if path and Path(path).suffix in (".pt", ".pth") and Path(path).is_file() else None

    def _show_familiarity_state(self, busy: bool = False) -> None:
        result = self.result
        familiar = result.familiar if result is not None else None
        self.familiarity_bar.set_known(familiar is not None, unfamiliar=int((~familiar).sum()) if familiar is not None
                                       else 0, total=len(familiar) if familiar is not None else 0,
                                       can_compute=self.bank_checkpoint() is not None, busy=busy)

    def compute_familiarity(self) -> None:
        checkpoint = self.bank_checkpoint()
        if checkpoint is None or self.bank_task.busy:
            return
        self._show_familiarity_state(busy=True)
        self.bank_task.submit(build_bank_job(checkpoint))

    def _on_bank_built(self, path: str) -> None:
        self.message.emit("info", f"Feature bank stored: {path}; evaluating again with familiarity")
        checkpoint = self.bank_checkpoint()
        if self.shown_folder is not None and checkpoint is not None:  # a saved evaluation: its checkpoint again
            self.source.setCurrentText("Checkpoint file")
            self.checkpoint_path.setText(checkpoint)
        self.evaluate()

    def _on_bank_failed(self, text: str) -> None:
        self._show_familiarity_state()
        self._tell("error", f"Familiarity not computed: {text}")

    def _on_image_clicked(self, file: str, true_index: int, predicted_index: int) -> None:
        classes = self.result.classes if self.result is not None else []
        if 0 <= true_index < len(classes) and 0 <= predicted_index < len(classes):
            from core.evaluate.images import resolve_image  # torch-free; a small PNG for in-memory items

            path = resolve_image(file, self.result.images)
            if path is None:  # a loaded evaluation naming a file outside its folder and its dataset
                self._tell("warning", f"{file} is outside this evaluation's folder and its dataset; not opened")
                return
            self.imageClicked.emit(path, classes[true_index], classes[predicted_index])

    def dataset_root(self) -> str | None:
        """The folder the shown evaluation ran on (core writes its source as 'FOLDER (split)'), if a folder."""
        source = self.result.source if self.result is not None else ""
        root = source.rsplit(" (", 1)[0] if source.endswith(")") else ""
        return root if root and Path(root).is_dir() else None

    def correct(self, file: str, action: str, label: str = "") -> None:
        """A gallery image's right-click menu: relabel / exclude / "label is right" in the corrections file."""
        root = self.dataset_root()
        if root is None or not Path(file).is_file():
            self._tell("warning", "Only images of a folder dataset can be corrected (this evaluation ran on "
                                  f"{self.result.source if self.result is not None else 'nothing'})")
            return
        self.edits.submit(corrections_job(root, action, file, label, self.result.classes))

    def _tell(self, level: str, text: str) -> None:
        self.gallery_title.setText(text)
        self.message.emit(level, text)

    def shutdown(self) -> None:
        self.bank_task.shutdown()
        self.edits.shutdown()
        self.run_evaluation.shutdown()
        self.task.shutdown()
        self.gallery.shutdown()
