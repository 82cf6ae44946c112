"""The Label tab: a folder of unlabelled photos, ranked by the current model, labelled from the keyboard.

Choose the labelled dataset and the pool; Rank scores the pool in the background (core.labelling.queue) and
shows the first photo large, with the model's guess and probability, why it was chosen and its nearest
labelled images. Keys (gui/labelling/keys.py): 1-9 or a unique first letter label, N new class, S skip,
X none of these, Backspace undo; every decision is a line of the dataset's labels log (core.labelling).
The next photos are decoded ahead on a background thread, so a key press shows the next one at once.
"Fine-tune with the new labels" runs `train --finetune-from` in a child process, then re-ranks with the new
model and adds a point to the accuracy-against-labels plot.
"""
from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QMessageBox,
                               QPushButton, QSizePolicy, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from gui.concurrent import BackgroundTask
from gui.labelling import keys
from gui.labelling.confident_grid import ConfidentGrid, confident_rows
from gui.labelling.curve_view import DataCurveView
from gui.labelling.finetune_process import FinetuneProcess
from gui.labelling.images import load_qimage

STRATEGIES = ("uncertainty", "diverse", "familiarity", "random")
AHEAD = 3  # photos decoded ahead of the one shown
NEAREST = 4


def _rank_job(checkpoint: str, pool: str, dataset: str, strategy: str, n: int):
    def job(ctx):
        from core.familiarity.jobs import bank_for_checkpoint
        from core.familiarity.scoring import familiarity_many
        from core.labelling.queue import build_queue

        items, scores = build_queue(checkpoint, pool, dataset=dataset or None, strategy=strategy, n=n,
                                    progress=ctx)
        nearest = {}
        try:
            bank = bank_for_checkpoint(checkpoint)
        except Exception:  # a damaged bank: the queue works without neighbours
            bank = None
        if bank is not None and items:
            found = familiarity_many(bank, scores.features[[i.row for i in items]], shown=NEAREST)
            nearest = {str(i.path): [(n.path, n.label) for n in f.nearest] for i, f in zip(items, found)}
        return items, scores, nearest
    return job


THUMB = 80  # the nearest labelled images' side


def _decode_job(paths: list[str], thumbs: list[str]):
    """The next photos at full size and their nearest labelled images as thumbnails ("PATH#thumb")."""
    def job(ctx):
        out = {}
        for path in paths:
            ctx.check_cancelled()
            out[path] = load_qimage(path)
        for path in thumbs:
            ctx.check_cancelled()
            out[f"{path}#thumb"] = load_qimage(path, THUMB)
        return out
    return job


def _run_accuracy(run_dir: Path) -> float | None:
    """The run's best validation accuracy in %, or None (not a run folder, no epoch recorded)."""
    from core.runs.history import fold
    from core.runs.index import is_run_folder

    try:
        best = fold(run_dir).best_epoch() if is_run_folder(run_dir) else None
    except OSError:
        return None
    return 100 * float(best["val_acc"]) if best and best.get("val_acc") is not None else None


class LabellingTab(QWidget):
    message = Signal(str, str)  # level, text: the window's log
    queueShown = Signal()  # a photo (or the empty queue) is on screen: tests and the window wait on it
    finetuned = Signal(str)  # the new checkpoint

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)  # a dropped folder: the pool or the dataset (asked when it cannot be told)
        self.checkpoint = ""
        self.items, self.scores, self.nearest = [], None, {}
        self.position = 0
        self.classes: list[str] = []
        self.labels_since_rank = 0
        self.cache: dict[str, object] = {}
        self.rounds: list[tuple[int, float]] = []  # (labels so far, validation accuracy)
        self.runs_root: Path | None = None  # where fine-tune runs go (default: the app's runs root)
        self.ask_class_name = self._ask_class_name  # replaced in tests
        self.ask_is_pool = self._ask_is_pool
        self.ranker = BackgroundTask(self)
        self.ranker.finished.connect(self._ranked)
        self.ranker.failed.connect(lambda text: self._problem(f"Ranking failed: {text}"))
        self.ranker.progress.connect(lambda d, t, m: self.status.setText(f"{m or 'ranking'}… {d}/{t}"))
        self.decoder = BackgroundTask(self, imports=())
        self.decoder.finished.connect(self.cache.update)
        self.finetune = FinetuneProcess(self)
        self.finetune.finished.connect(self._finetuned)
        self._build()

    # ---- layout ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.dataset_edit, self.pool_edit = QLineEdit(), QLineEdit()
        self.dataset_edit.setPlaceholderText("the labelled dataset (one folder per class)")
        self.pool_edit.setPlaceholderText("the folder of unlabelled photos")
        self.strategy = QComboBox()
        self.strategy.addItems(STRATEGIES)
        self.strategy.setToolTip("uncertainty: where the model is torn; diverse: uncertain and unlike each other; "
                                 "familiarity: least like the training images; random: the baseline")
        self.count = QSpinBox()
        self.count.setRange(1, 10_000)
        self.count.setValue(100)
        self.rank_button = QPushButton("Rank the pool")
        self.rank_button.clicked.connect(self.rank)
        top = QHBoxLayout()
        for text, edit in (("Dataset", self.dataset_edit), ("Pool", self.pool_edit)):
            top.addWidget(QLabel(text))
            top.addWidget(edit, 1)
            choose = QPushButton("…")
            choose.setFixedWidth(28)
            choose.clicked.connect(lambda _=False, e=edit: self._choose_folder(e))
            top.addWidget(choose)
        for w in (QLabel("Order"), self.strategy, QLabel("Show"), self.count, self.rank_button):
            top.addWidget(w)

        self.image = QLabel("Choose a dataset and a pool of unlabelled photos, then Rank the pool.")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(360, 360)
        self.image.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image.setStyleSheet("background: #202020; color: #ddd;")
        self.guess = QLabel()
        self.guess.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.reason, self.where, self.legend = QLabel(), QLabel(), QLabel()
        for label in (self.reason, self.where, self.legend):
            label.setWordWrap(True)
        self.near_row = QHBoxLayout()
        self.near_labels = [QLabel() for _ in range(NEAREST)]
        for label in self.near_labels:
            label.setFixedSize(84, 100)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.near_row.addWidget(label)
        self.near_row.addStretch(1)
        self.accept_button = QPushButton("Accept the confident ones…")
        self.accept_button.clicked.connect(self.accept_confident)
        self.finetune_button = QPushButton("Fine-tune with the new labels")
        self.finetune_button.clicked.connect(self.start_finetune)
        self.every = QSpinBox()
        self.every.setRange(0, 1000)
        self.every.setValue(0)
        self.every.setSpecialValueText("on demand")
        self.every.setPrefix("every ")
        self.every.setSuffix(" labels")
        self.curve_button = QPushButton("Would more photos help?")
        self.curve_button.clicked.connect(self.show_curve)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(150)
        self.plot.setLabel("bottom", "labels added")
        self.plot.setLabel("left", "val accuracy (%)")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot_line = self.plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=7)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.setYRange(0, 100)
        self.plot.setXRange(0, 10)
        side = QVBoxLayout()
        for w in (self.guess, self.reason, self.where):
            side.addWidget(w)
        side.addWidget(QLabel("Nearest labelled images:"))
        side.addLayout(self.near_row)
        side.addWidget(self.accept_button)
        row = QHBoxLayout()
        row.addWidget(self.finetune_button)
        row.addWidget(self.every)
        side.addLayout(row)
        side.addWidget(QLabel("Accuracy against labels, round by round:"))
        side.addWidget(self.plot, 1)
        side.addWidget(self.curve_button)
        side_widget = QWidget()
        side_widget.setLayout(side)
        split = QSplitter()
        split.addWidget(self.image)
        split.addWidget(side_widget)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.status = QLabel("")
        self.curve = DataCurveView(self)
        self.curve.message.connect(self.message)
        self.curve.hide()
        queue = QWidget()
        queue_layout = QVBoxLayout(queue)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        queue_layout.addWidget(split, 1)
        queue_layout.addWidget(self.legend)
        queue_layout.addWidget(self.status)
        below = QSplitter(Qt.Orientation.Vertical)  # the curve, when shown, takes the lower part
        below.addWidget(queue)
        below.addWidget(self.curve)
        below.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(below, 1)
        for w in self.findChildren(QWidget):  # the keys belong to the queue, not to whichever button had focus
            if isinstance(w, (QPushButton, QComboBox, QSpinBox)):
                w.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

    def _choose_folder(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text() or str(Path.home()))
        if folder:
            self.set_folder(folder, edit)

    def set_folder(self, folder: str, edit: QLineEdit | None = None) -> None:
        """A chosen or dropped folder: a pool or a dataset, asking when it cannot be told."""
        from core.labelling.pool import DATASET, POOL, folder_kind

        kind = folder_kind(folder)
        if edit is None and kind not in (POOL, DATASET):
            kind = POOL if self.ask_is_pool(folder) else DATASET
        target = edit or (self.pool_edit if kind == POOL else self.dataset_edit)
        target.setText(folder)

    def dragEnterEvent(self, event) -> None:
        if any(Path(u.toLocalFile()).is_dir() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if Path(url.toLocalFile()).is_dir():
                self.set_folder(url.toLocalFile())
        event.acceptProposedAction()

    # ---- inputs from the window ------------------------------------------------------------------------
    def set_checkpoint(self, path: str) -> None:
        """The model that ranks the pool; its run's best validation accuracy is the plot's first point."""
        self.checkpoint = str(path or "")
        if self.checkpoint and not self.rounds:
            accuracy = _run_accuracy(Path(self.checkpoint).parent)
            if accuracy is not None:
                self.rounds.append((0, accuracy))
                self._plot_rounds()

    def set_dataset(self, folder: str) -> None:
        if folder and not self.dataset_edit.text():
            self.dataset_edit.setText(folder)

    # ---- ranking ---------------------------------------------------------------------------------------
    def rank(self) -> None:
        if not self.checkpoint:
            self._problem("There is no model to rank with: train one or open a checkpoint first.")
            return
        if not self.pool_edit.text():
            self._problem("Choose the folder of unlabelled photos (Pool) first.")
            return
        self.status.setText("ranking the pool…")
        self.ranker.submit(_rank_job(self.checkpoint, self.pool_edit.text(), self.dataset_edit.text(),
                                     self.strategy.currentText(), self.count.value()))

    def _ranked(self, result) -> None:
        self.items, self.scores, self.nearest = result
        self.classes = self._dataset_classes() or list(self.scores.classes)
        self.position, self.labels_since_rank = 0, 0
        self.legend.setText(keys.legend(self.classes))
        skipped = f"; {len(self.scores.unreadable)} unreadable photos left out" if self.scores.unreadable else ""
        self.status.setText(f"{len(self.items)} photos to label, of {len(self.scores.paths)} in the pool"
                            f" ({self.strategy.currentText()}){skipped}")
        self._show()
        self.setFocus()

    def _dataset_classes(self) -> list[str]:
        from core.data.folder import class_folders

        folder = self.dataset_edit.text()
        return [p.name for p in class_folders(Path(folder))] if folder and Path(folder).is_dir() else []

    # ---- showing ---------------------------------------------------------------------------------------
    @property
    def current(self):
        return self.items[self.position] if 0 <= self.position < len(self.items) else None

    def _show(self) -> None:
        item = self.current
        if item is None:
            self.image.setPixmap(QPixmap())
            self.image.setText("Nothing left to label in this round: fine-tune, or rank again.")
            self.guess.setText("")
            self.reason.setText("")
            self.where.setText("")
            for label in self.near_labels:
                label.clear()
            self.queueShown.emit()
            return
        key = str(item.path)
        picture = self.cache.get(key) or load_qimage(key)
        pixmap = QPixmap.fromImage(picture)
        if not pixmap.isNull():
            pixmap = pixmap.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.FastTransformation if pixmap.width() < 64
                                   else Qt.TransformationMode.SmoothTransformation)
        self.image.setPixmap(pixmap)
        familiar = "familiarity unknown" if item.familiarity is None else f"familiarity {item.familiarity:.2f}"
        self.guess.setText(f"{item.suggested}?  {item.probability:.0%}")
        self.reason.setText(f"{item.reason} · {familiar}")
        self.where.setText(f"{self.position + 1} of {len(self.items)} · {Path(key).name}")
        near = self.nearest.get(key, [])
        for label, found in zip(self.near_labels, near + [None] * NEAREST):
            if found is None:
                label.clear()
                continue
            picture = self.cache.get(f"{found[0]}#thumb") or load_qimage(found[0], THUMB)
            thumb = QPixmap.fromImage(picture)
            label.setPixmap(thumb.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio) if not thumb.isNull()
                            else thumb)
            label.setToolTip(f"{found[1]}: {found[0]}")
        self._decode_ahead()
        self.queueShown.emit()

    def _decode_ahead(self) -> None:
        for item in self.items[:max(0, self.position - 2)]:  # photos left behind (undo goes back one or two)
            self.cache.pop(str(item.path), None)
        upcoming = [str(i.path) for i in self.items[self.position + 1:self.position + 1 + AHEAD]]
        wanted = [p for p in upcoming if p not in self.cache]
        thumbs = list(dict.fromkeys(n[0] for p in upcoming for n in self.nearest.get(p, [])
                                    if f"{n[0]}#thumb" not in self.cache))
        if wanted or thumbs:
            self.decoder.submit(_decode_job(wanted, thumbs))

    # ---- deciding --------------------------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Backspace:
            self.undo()
            return
        action = keys.action_for(event.text(), self.classes) if self.current is not None else None
        if action is None:
            super().keyPressEvent(event)
            return
        kind, name = action
        if kind == "label":
            self.label(name)
        elif kind == "new_class":
            name = self.ask_class_name()
            if name:
                self.label(name)
        else:
            self.mark(kind)

    def _ask_is_pool(self, folder: str) -> bool:
        answer = QMessageBox.question(self, "Which is it?", f"{folder} holds loose photos and class folders (or "
                                      "neither). Use it as the pool of unlabelled photos? (No: as the dataset)")
        return answer == QMessageBox.StandardButton.Yes

    def _ask_class_name(self) -> str:
        name, ok = QInputDialog.getText(self, "New class", "Name of the new class:")
        return name.strip() if ok else ""

    def _dataset(self) -> str | None:
        folder = self.dataset_edit.text()
        if not folder:
            self._problem("Choose the labelled dataset first: labels are copied into its class folders.")
            return None
        return folder

    def label(self, name: str) -> None:
        from core.errors import LayerscopeError
        from core.labelling.apply import label_photo

        item, dataset = self.current, self._dataset()
        if item is None or dataset is None:
            return
        try:
            entry = label_photo(dataset, item.path, name)
        except LayerscopeError as exc:
            self._problem(str(exc))
            return
        if name not in self.classes:
            self.classes.append(name)
            self.legend.setText(keys.legend(self.classes))
        self.message.emit("info", f"{item.path.name} → {entry['copy']}")
        self.labels_since_rank += 1
        self._advance()
        if self.every.value() and self.labels_since_rank >= self.every.value() and not self.finetune.running:
            self.start_finetune()

    def mark(self, kind: str) -> None:
        from core.labelling.apply import mark

        item, dataset = self.current, self._dataset()
        if item is None or dataset is None:
            return
        mark(dataset, item.path, kind)
        self._advance()

    def undo(self) -> None:
        from core.labelling.apply import undo_last

        dataset = self.dataset_edit.text()
        if not dataset:
            return
        entry = undo_last(dataset)
        if entry is None:
            self.status.setText("nothing to undo")
            return
        if entry["action"] in ("label", "accept"):
            self.labels_since_rank = max(0, self.labels_since_rank - 1)
            if entry.get("new_class") and entry.get("label") in self.classes:
                self.classes.remove(entry["label"])
                self.legend.setText(keys.legend(self.classes))
        sources = [str(i.path) for i in self.items]
        if entry.get("source") in sources:
            self.position = sources.index(entry["source"])  # back to the photo whose decision was undone
        self.status.setText(f"undone: {entry['action']} {Path(str(entry.get('source'))).name}")
        self._show()

    def _advance(self) -> None:
        self.position += 1
        self._show()

    def accept_confident(self) -> None:
        from core.labelling.apply import label_photo

        dataset = self._dataset()
        if self.scores is None or dataset is None:
            return
        rows = confident_rows(self.scores)
        if not rows:
            self.status.setText("no photo is both confident and familiar enough to accept in bulk")
            return
        grid = ConfidentGrid(self.scores, rows, self)
        if grid.exec():
            ticked = grid.ticked()
            for path, name in ticked:
                label_photo(dataset, path, name, accepted=True)
            self.message.emit("info", f"accepted {len(ticked)} confident photos")
            self.labels_since_rank += len(ticked)

    # ---- closing the loop ------------------------------------------------------------------------------
    def start_finetune(self) -> None:
        from core.runs.location import default_runs_root, new_run_dir

        if not self.checkpoint or self.finetune.running:
            return
        root = self.runs_root or default_runs_root()
        run = new_run_dir(Path(root), "finetune", "labels")
        self.status.setText("fine-tuning with the new labels…")
        self.finetune_button.setEnabled(False)
        self.finetune.start(self.checkpoint, run)

    def _finetuned(self, run_dir: str, ok: bool, tail: str) -> None:
        from core.labelling.labels_log import load_state
        from core.runs.layout import BEST

        self.finetune_button.setEnabled(True)
        if not ok:
            self._problem(f"Fine-tuning failed: {tail or 'see the log'} (a new class needs a new run: train it "
                          "in the Train tab)")
            return
        accuracy = _run_accuracy(Path(run_dir))
        labelled = load_state(self.dataset_edit.text()).labelled if self.dataset_edit.text() else 0
        if accuracy is not None:
            self.rounds.append((labelled, accuracy))
            self._plot_rounds()
        self.checkpoint = str(Path(run_dir) / BEST)
        self.message.emit("info", f"fine-tuned: {self.checkpoint}; ranking again with the new model")
        self.finetuned.emit(self.checkpoint)
        self.rank()

    def _plot_rounds(self) -> None:
        self.plot_line.setData([r[0] for r in self.rounds], [r[1] for r in self.rounds])
        self.plot.setXRange(0, max(10, max(r[0] for r in self.rounds)) * 1.05)

    def show_curve(self) -> None:
        self.curve.setVisible(True)
        self.curve.start()

    def _problem(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit("warning", text)

    def shutdown(self) -> None:
        self.finetune.stop()
        self.curve.shutdown()
        self.ranker.shutdown()
        self.decoder.shutdown()
