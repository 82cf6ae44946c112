"""Label issues: a k-fold pass ranks likely label errors; each can be relabelled, excluded or confirmed.

Above the list, how far it can be trusted: the fold models' out-of-sample accuracy, and in plain words when it
is too low (core.evaluate.label_issues.ListTrust). The list shows the images cleanlab's own rule flags (how
many is its estimate of the noise), or every image ranked. Every edit goes through core/data/corrections.py on
the worker primitive (the corrections file beside the dataset); the user's files move only on Apply, after a
confirm dialog, and Apply can be undone.
"""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMessageBox,
                               QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from gui.concurrent import BackgroundTask
from gui.evaluate.jobs import corrections_job, label_issues_job, thumbnails_job

COLUMNS = ["image", "file", "given", "suggested", "score", "correction"]
ICON = 48
SHOWN = 300  # rows listed (most likely errors first); the CSV export of the CLI has them all
FLAGGED, ALL = "flagged", "all"
TRUSTED_STYLE = "QLabel { background: #e8f5e9; border: 1px solid #81c784; border-radius: 4px; padding: 4px; }"
UNTRUSTED_STYLE = "QLabel { background: #fdecea; border: 1px solid #e57373; border-radius: 4px; padding: 4px; }"


class IssuesPanel(QWidget):
    message = Signal(str, str)
    correctionsChanged = Signal(str)  # the dataset root whose corrections file changed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.classes: list[str] = []
        self.issues: list = []  # the rows shown, in order
        self.all_issues: list = []  # every image of the pass, ranked
        self.trust = None  # core.evaluate.label_issues.ListTrust of the last pass
        self._corrections: dict[str, str] = {}  # file -> the correction column's text, kept across views
        self.root = ""
        self.task = BackgroundTask(self, imports=("core.evaluate.label_issues",))
        self.task.progress.connect(self._on_progress)
        self.task.finished.connect(self.show_issues)
        self.task.failed.connect(self._on_failed)
        self.edits = BackgroundTask(self, imports=("core.data.corrections",))
        self.edits.finished.connect(self._on_edited)
        self.edits.failed.connect(lambda text: self._say("error", text))
        self.thumbs = BackgroundTask(self, threads=2, imports=("PIL.Image", "core.io.images"))
        self.thumbs.partial.connect(self._on_thumbnails)
        self._build()

    def _build(self) -> None:
        self.dataset = QLineEdit()
        self.dataset.setPlaceholderText("a folder of class sub-folders")
        browse = QPushButton("…")
        browse.clicked.connect(self._choose_dataset)
        self.folds = QSpinBox(minimum=2, maximum=10, value=5)
        self.epochs = QSpinBox(minimum=1, maximum=50, value=12)  # as the CLI: 6 was too short
        self.find_button = QPushButton("Find label issues")
        self.find_button.clicked.connect(self.find)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        top = QHBoxLayout()
        for widget in (QLabel("Dataset"), self.dataset, browse, QLabel("folds"), self.folds, QLabel("epochs"),
                       self.epochs, self.find_button, self.cancel_button):
            top.addWidget(widget, 1 if widget is self.dataset else 0)
        self.trust_label = QLabel()  # the fold models' accuracy: how far the list can be trusted
        self.trust_label.setWordWrap(True)
        self.trust_label.hide()
        self.show_choice = QComboBox()
        self.show_choice.setToolTip("cleanlab's own rule decides which images are flagged (its estimate of how many "
                                    "labels are wrong); every image is ranked by its score")
        self.show_choice.currentIndexChanged.connect(lambda _: self._fill_table())
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setIconSize(QSize(ICON, ICON))
        self.table.verticalHeader().setDefaultSectionSize(ICON + 4)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._on_selected)
        self.label_choice = QComboBox()
        buttons = QHBoxLayout()
        self.relabel_button = QPushButton("Relabel as")
        self.relabel_button.clicked.connect(lambda: self.edit("relabel", label=self.label_choice.currentText()))
        self.exclude_button = QPushButton("Exclude")
        self.exclude_button.clicked.connect(lambda: self.edit("exclude"))
        self.confirm_button = QPushButton("Label is right")
        self.confirm_button.clicked.connect(lambda: self.edit("confirm"))
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(lambda: self.edit("undo"))
        self.apply_button = QPushButton("Apply (move files)…")
        self.apply_button.clicked.connect(lambda: self.apply())
        self.undo_apply_button = QPushButton("Undo Apply")
        self.undo_apply_button.clicked.connect(lambda: self.edit("undo_apply"))
        for widget in (self.relabel_button, self.label_choice, self.exclude_button, self.confirm_button,
                       self.undo_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.undo_apply_button)
        self.findings = QPlainTextEdit()
        self.findings.setReadOnly(True)
        self.findings.setPlaceholderText("Duplicates across classes and confounds appear here.")
        self.status = QLabel("Cross-validation trains a small model k times so every image is judged by a model "
                             "that never saw its label; cleanlab ranks the result.")
        self.status.setWordWrap(True)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        self.show_row = QWidget()  # shown once a pass has a list
        shown = QHBoxLayout(self.show_row)
        shown.setContentsMargins(0, 0, 0, 0)
        shown.addWidget(QLabel("Show"))
        shown.addWidget(self.show_choice)
        shown.addStretch(1)
        self.show_row.hide()
        upper_layout.addWidget(self.trust_label)
        upper_layout.addWidget(self.show_row)
        upper_layout.addWidget(self.table, 1)
        upper_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(self.findings)
        splitter.setSizes([500, 140])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)
        self._enable_edits(False)

    def _choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder to check")
        if folder:
            self.dataset.setText(folder)

    def set_dataset(self, root: str) -> None:
        if root and not self.dataset.text():
            self.dataset.setText(root)

    def _say(self, level: str, text: str) -> None:
        self.status.setText(text)
        self.message.emit(level, text)

    def _enable_edits(self, on: bool) -> None:
        for widget in (self.relabel_button, self.label_choice, self.exclude_button, self.confirm_button):
            widget.setEnabled(on)

    # ---- the pass ------------------------------------------------------------------------------------
    def find(self) -> None:
        root = self.dataset.text().strip()
        if not root or not Path(root).is_dir():
            self._say("warning", f"{root or 'No folder'}: pick a dataset folder of class sub-folders first")
            return
        self.root = root
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.task.submit(label_issues_job(root, self.folds.value(), self.epochs.value()))

    def cancel(self) -> None:
        self.task.cancel()
        self._idle()
        self._say("info", "Label-issue pass cancelled")

    def _idle(self) -> None:
        self.progress.setRange(0, 100)
        self.find_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(text or "%p%")

    def _on_failed(self, text: str) -> None:
        self._idle()
        self._say("error", f"Label-issue pass failed: {text}")

    def show_issues(self, found: dict) -> None:
        self._idle()
        self.progress.setValue(100)
        self.root, self.classes, self.all_issues = found["root"], found["classes"], found["issues"]
        self.trust = found.get("trust")
        self._corrections = {}
        self.label_choice.clear()
        self.label_choice.addItems(self.classes)
        flagged = sum(1 for i in self.all_issues if i.flagged)
        self.show_choice.blockSignals(True)
        self.show_choice.clear()
        self.show_choice.addItem(f"Flagged by cleanlab ({flagged})", FLAGGED)
        self.show_choice.addItem(f"All images, ranked ({len(self.all_issues)})", ALL)
        self.show_choice.setCurrentIndex(0 if flagged else 1)
        self.show_choice.blockSignals(False)
        self.show_row.show()
        self._show_trust()
        self._fill_table()
        lines = [f"{len(found['duplicates'])} duplicate pairs across classes:"]
        lines += [f"  {'exact' if d.exact else f'near ({d.distance} bits)'}: {d.file_a} [{d.label_a}]  =  {d.file_b} "
                  f"[{d.label_b}]" for d in found["duplicates"][:50]]
        lines += [""] + (found["confounds"] or ["No confounds found: no single file property (format, mode, size, "
                                                "aspect ratio, file size, colour) tells a class apart."])
        self.findings.setPlainText("\n".join(lines))
        self._say("info", f"{len(self.all_issues)} images ranked, {flagged} flagged as likely label errors by "
                          f"cleanlab; most likely errors first")

    def _show_trust(self) -> None:
        if self.trust is None:
            self.trust_label.hide()
            return
        trusted = self.trust.trusted
        head = (f"<b>Fold models' accuracy: {self.trust.accuracy:.0%}</b> on the images they never trained on "
                f"(always answering the largest class: {self.trust.chance:.0%})")
        first, _, rest = self.trust.verdict().partition(". ")  # the verdict in bold, then why and what to do
        verdict = (f"<b>The list can be trusted:</b> {html.escape(first)}" if trusted else
                   f"<b style='color:#a11'>{html.escape(first[0].upper() + first[1:])}.</b> {html.escape(rest)}")
        self.trust_label.setText(f"{head}<br>{verdict}")
        self.trust_label.setStyleSheet(TRUSTED_STYLE if trusted else UNTRUSTED_STYLE)
        self.trust_label.show()

    def _fill_table(self) -> None:
        """The rows the chooser asks for: cleanlab's flagged images, or every image; most likely errors first."""
        self.thumbs.cancel()
        wanted = self.show_choice.currentData()
        rows = [i for i in self.all_issues if i.flagged] if wanted == FLAGGED else list(self.all_issues)
        self.issues = rows[:SHOWN]
        self.table.clearSelection()
        self.table.setRowCount(len(self.issues))
        for row, issue in enumerate(self.issues):
            cells = ["", str(Path(issue.file).relative_to(self.root)) if Path(issue.file).is_relative_to(self.root)
                     else issue.file, issue.given, issue.suggested, f"{issue.score:.3f}" + (" ⚑" if issue.flagged else ""),
                     self._corrections.get(issue.file, "")]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 1:
                    item.setToolTip(issue.file)
                if column == 4 and issue.flagged:
                    item.setToolTip("flagged by cleanlab's confident-learning rule")
                self.table.setItem(row, column, item)
        pairs = [(r, i.file) for r, i in enumerate(self.issues)]
        if pairs:
            self.thumbs.submit(thumbnails_job(pairs[:16], ICON), priority=1)
            for start in range(16, len(pairs), 64):
                self.thumbs.add(thumbnails_job(pairs[start:start + 64], ICON))

    def _on_thumbnails(self, pairs) -> None:
        for row, image in pairs:
            item = self.table.item(row, 0)
            if image is not None and item is not None:
                item.setIcon(QIcon(QPixmap.fromImage(image)))

    def _on_selected(self) -> None:
        row = self.current_row()
        self._enable_edits(row is not None)
        if row is not None and self.issues[row].suggested in self.classes:
            self.label_choice.setCurrentText(self.issues[row].suggested)

    def current_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows and rows[0].row() < len(self.issues) else None

    # ---- corrections ---------------------------------------------------------------------------------
    def edit(self, action: str, label: str = "") -> None:
        if not self.root:
            self._say("warning", "Find label issues first (the corrections belong to that dataset)")
            return
        file = ""
        if action in ("relabel", "exclude", "confirm"):
            row = self.current_row()
            if row is None:
                self._say("warning", "Select an image in the list first")
                return
            file = self.issues[row].file
        self.edits.submit(corrections_job(self.root, action, file, label, self.classes))

    def apply(self, confirm: bool = True) -> None:
        if not self.root:
            return
        if confirm:
            answer = QMessageBox.question(
                self, "Apply corrections", f"Move the relabelled images of {self.root} into their class folders "
                "and the excluded ones into .layerscope-excluded/? Every move is logged; Undo Apply moves them back.")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.edits.submit(corrections_job(self.root, "apply"))

    def _on_edited(self, outcome) -> None:
        action, file, text = outcome
        notes = self._corrections
        if action in ("relabel", "exclude", "confirm", "undo") and file:
            notes[file] = {"relabel": f"→ {text.rsplit('-> ', 1)[-1]}", "exclude": "excluded",
                           "confirm": "label is right", "undo": "undone"}[action]
        for key, note in list(notes.items()):
            if action == "apply" and note not in ("label is right", "undone"):
                notes[key] = "applied (moved)"
            elif action == "undo_apply" and note == "applied (moved)":
                notes[key] = "moved back"
        for row, issue in enumerate(self.issues):
            self.table.item(row, 5).setText(notes.get(issue.file, ""))
        self._say("info", text)
        self.correctionsChanged.emit(self.root)

    def shutdown(self) -> None:
        for task in (self.task, self.edits, self.thumbs):
            task.shutdown()
