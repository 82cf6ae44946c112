"""The dataset health report: images per class and split, each class's formats, modes, sizes, aspect ratios,
file sizes and colour side by side (a confound, a class one of them alone tells apart, in red with its fix),
problem files with reasons, duplicates, tiny or imbalanced classes, and what is not used (non-image files,
tool folders, folders beside train/ and val/). The scan itself (core.data.health.scan_health) runs off the GUI
thread with a progress bar and a Cancel button."""
from __future__ import annotations

import html
import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QScrollArea,
                               QTableWidget, QTableWidgetItem, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from gui.concurrent import BackgroundTask

WARN_BRUSH = QBrush(QColor("#fde2e1"))
CONFOUND_BRUSH = QBrush(QColor("#f8c9c6"))
# The per-class breakdown, one row per property: (row label, the confound properties it shows).
PROFILE_ROWS = (("format", ("format",)), ("mode", ("mode",)), ("size (median)", ("width", "height")),
                ("aspect ratio", ("aspect",)), ("file size", ("file_kb",)), ("brightness", ("brightness",)),
                ("contrast", ("contrast",)), ("colourfulness", ("colourfulness",)))
MAX_ROWS = 1000  # per section: a list the user can read, and a widget that fills in milliseconds
PROBLEM_KINDS = {"empty": "empty file", "corrupt": "corrupt", "unreadable": "unreadable", "not_image": "not an image"}


def run_health_scan(root: str, context, val_fraction: float = 0.2):
    from core.data.health import scan_health  # imported on the worker thread (pulls in torch)

    # One core stays free for the window (and the thumbnail threads) while the scan reads every file.
    threads = max(1, (os.cpu_count() or 2) - 1)
    return scan_health(root, context, threads=threads, val_fraction=val_fraction)


class HealthView(QWidget):
    report_ready = Signal(object)  # core.data.health.HealthReport
    class_clicked = Signal(str)  # a class row of the counts table
    scan_failed = Signal(str)
    scan_cancelled = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._report = None
        self._root: str | None = None
        self.status = QLabel("Open a dataset folder: drop it on the window, or File > Open Dataset… (Ctrl+D).")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the health check (the dataset can still be used)")
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        self._progress_row = QWidget()
        self._progress_row.setLayout(bar)
        bar.setContentsMargins(0, 0, 0, 0)
        self._progress_row.hide()

        self.warnings = QLabel()  # the sentences that matter most, wrapped, above the details
        self.warnings.setWordWrap(True)
        self.warnings.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.warnings.setStyleSheet("QLabel { background: #fff4e5; border: 1px solid #f0c36d; border-radius: 4px; padding: 4px; }")
        self.warnings.hide()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.counts = QTableWidget(0, 0)
        self.counts.verticalHeader().hide()
        self.counts.setEditTriggers(QTableWidget.NoEditTriggers)
        self.counts.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.counts.setSizeAdjustPolicy(QTableWidget.AdjustToContents)
        self.counts.setVerticalScrollMode(QTableWidget.ScrollPerPixel)
        self.counts.setToolTip("Click a class to browse its images")
        self.counts.cellClicked.connect(self._on_cell_clicked)
        self.profile = QTableWidget(0, 0)  # the per-class breakdown: one column per class
        self.profile.setEditTriggers(QTableWidget.NoEditTriggers)
        self.profile.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.profile.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.profile.setToolTip("Median per class (hover for the range). Red: one property alone tells this class "
                                "apart, so a network can learn it instead of the content")
        self.problems = QTreeWidget()
        self.problems.setHeaderLabels(["Finding", "Details"])
        self.problems.setColumnWidth(0, 230)
        # Reasons are sentences: wrap them rather than cut them off.
        self.problems.setWordWrap(True)
        self.problems.setTextElideMode(Qt.ElideMiddle)
        self.problems.setUniformRowHeights(False)
        self.problems.header().setStretchLastSection(True)
        self.problems.setAlternatingRowColors(True)

        report = QWidget()
        report_layout = QVBoxLayout(report)
        report_layout.setContentsMargins(0, 0, 0, 0)
        report_layout.addWidget(self.summary)
        report_layout.addWidget(self.warnings)
        report_layout.addWidget(QLabel("<b>Images per class</b> (readable files)"))
        report_layout.addWidget(self.counts)
        self.profile_title = QLabel("<b>Each class's files</b> (what a network could learn instead of the content)")
        report_layout.addWidget(self.profile_title)
        report_layout.addWidget(self.profile)
        report_layout.addWidget(QLabel("<b>Problems</b>"))
        report_layout.addWidget(self.problems, 1)
        self.problems.setMinimumHeight(200)
        # The report scrolls as a whole when its parts do not fit: nothing is squeezed or cut off.
        self.report_area = QScrollArea()  # hidden while there is no report (built-in sets)
        self.report_area.setWidgetResizable(True)
        self.report_area.setFrameShape(QFrame.NoFrame)
        self.report_area.setWidget(report)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self._progress_row)
        layout.addWidget(self.report_area, 1)
        layout.addStretch(0)

        self._task = BackgroundTask(self)
        self._task.progress.connect(self._on_progress)
        self._task.finished.connect(self._on_report)
        self._task.failed.connect(self._on_failed)
        self._task.cancelled.connect(self._on_cancelled)
        self.cancel_button.clicked.connect(self.cancel)

    def report(self):
        return self._report

    def is_scanning(self) -> bool:
        return self._task.busy

    def scan(self, root: str | Path, val_fraction: float = 0.2) -> None:
        self._root = str(root)
        self._report = None
        self.clear()
        self.report_area.show()
        self.status.setText(f"Checking <b>{self._root}</b>…")
        self.progress.setRange(0, 0)  # busy until the first count arrives
        self._progress_row.show()
        self._task.submit(lambda ctx, root=self._root: run_health_scan(root, ctx, val_fraction))

    def cancel(self) -> None:
        self._task.cancel()

    def _on_cell_clicked(self, row: int, _column: int) -> None:
        if self._report is not None and row < len(self._report.classes):
            self.class_clicked.emit(self._report.classes[row])

    def show_message(self, text: str) -> None:
        """For datasets without files to check (shapes, MNIST...): a description instead of a report."""
        self._task.cancel()
        self._report = None
        self.clear()
        self._progress_row.hide()
        self.report_area.hide()
        self.status.setText(text)

    def clear(self) -> None:
        self.summary.clear()
        self.warnings.clear()
        self.warnings.hide()
        self.counts.clear()
        self.counts.setRowCount(0)
        self.counts.setColumnCount(0)
        self.profile.clear()
        self.profile.setRowCount(0)
        self.profile.setColumnCount(0)
        self.problems.clear()

    def shutdown(self) -> None:
        self._task.shutdown()

    # --- results ---
    def _on_progress(self, done: int, total: int, _text: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat("Checking images: %v / %m")

    def _on_cancelled(self) -> None:
        self._progress_row.hide()
        self.status.setText(f"Health check of {self._root} cancelled. The dataset can still be used; "
                            "unreadable files are left out of training.")
        self.scan_cancelled.emit()

    def _on_failed(self, message: str) -> None:
        self._progress_row.hide()
        self.status.setText(f"<span style='color:#a11'>Cannot use {self._root} as a dataset: {message}</span>")
        self.scan_failed.emit(message)

    def _on_report(self, report) -> None:
        self._report = report
        self._progress_row.hide()
        n_problems = len(report.problems)
        ok = "no problems found" if not (n_problems or report.warnings) else \
            f"<span style='color:#a11'>{len(report.warnings)} warning(s)</span>"
        self.status.setText(f"<b>{report.root}</b>: {ok}")
        sizes = ""
        if report.min_size and report.max_size:
            sizes = (f"<br>Sizes {report.min_size[0]}×{report.min_size[1]} to "
                     f"{report.max_size[0]}×{report.max_size[1]} px · modes "
                     + ", ".join(f"{m} ({n})" for m, n in sorted(report.modes.items()))
                     + " · formats " + ", ".join(f"{f} ({n})" for f, n in sorted(report.formats.items())))
        imbalance = f" · largest/smallest class {report.imbalance_ratio:g}×" if report.imbalance_ratio else ""
        self.summary.setText(
            f"{report.layout} · {len(report.classes)} classes · {report.total_files} image files, "
            f"{report.good_files} readable, {n_problems} with problems"
            + (f", {len(report.ignored)} other {'entry' if len(report.ignored) == 1 else 'entries'} not used"
               if report.ignored else "") + imbalance + sizes)
        self._fill_counts(report)
        self._fill_profile(report)
        self._fill_problems(report)
        self.report_ready.emit(report)

    def _fill_counts(self, report) -> None:
        splits = [s for s in ("train", "val", "test") if any(s in per for per in report.counts.values())]
        headers = ["Class"] + splits + ["Total"]
        self.counts.setColumnCount(len(headers))
        self.counts.setHorizontalHeaderLabels(headers)
        self.counts.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.counts.setRowCount(len(report.classes) + 1)
        small = set(report.small_classes)
        totals = [0] * len(splits)
        for r, name in enumerate(report.classes):
            per = report.counts.get(name, {})
            values = [per.get(s, 0) for s in splits]
            totals = [a + b for a, b in zip(totals, values)]
            cells = [name] + [str(v) for v in values] + [str(sum(values))]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if name in small:
                    item.setBackground(WARN_BRUSH)
                    item.setToolTip("Too few training images in this class")
                self.counts.setItem(r, c, item)
        for c, text in enumerate(["All"] + [str(v) for v in totals] + [str(sum(totals))]):
            item = QTableWidgetItem(text)
            font = item.font()
            font.setBold(True)
            item.setFont(font)
            if c:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.counts.setItem(len(report.classes), c, item)
        # As tall as its rows, up to six classes and the total; more scroll (the problems need the room).
        rows_height = sum(self.counts.rowHeight(r) for r in range(min(self.counts.rowCount(), 7)))
        self.counts.setFixedHeight(rows_height + self.counts.horizontalHeader().height() + 4)

    def _fill_profile(self, report) -> None:
        profiles = list(getattr(report, "profiles", []))
        self.profile.setVisible(bool(profiles))
        self.profile_title.setVisible(bool(profiles))
        if not profiles:
            return
        flagged = {(c.cls, c.property): c for c in report.confounds}
        self.profile.setColumnCount(len(profiles))
        self.profile.setRowCount(len(PROFILE_ROWS))
        few = len(profiles) <= 6  # a few classes share the width; many keep their own and scroll
        self.profile.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch if few else QHeaderView.ResizeToContents)
        self.profile.setHorizontalHeaderLabels([p.name for p in profiles])
        self.profile.setVerticalHeaderLabels([label for label, _ in PROFILE_ROWS])
        for column, p in enumerate(profiles):
            for row, (label, props) in enumerate(PROFILE_ROWS):
                text, tip = _profile_cell(p, label)
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignCenter)
                hits = [flagged[(p.name, prop)] for prop in props if (p.name, prop) in flagged]
                if hits:
                    item.setBackground(CONFOUND_BRUSH)
                    tip = "\n".join([tip] + [f"Confound: {h.detail}. Fix: {h.fix}" for h in hits])
                item.setToolTip(tip)
                self.profile.setItem(row, column, item)
        rows_height = sum(self.profile.rowHeight(r) for r in range(self.profile.rowCount()))
        scroll = 0 if few else self.profile.horizontalScrollBar().sizeHint().height()
        self.profile.setFixedHeight(rows_height + self.profile.horizontalHeader().height() + scroll + 4)

    def _section(self, title: str, count: int, expanded: bool = True) -> QTreeWidgetItem:
        item = QTreeWidgetItem([f"{title} ({count})", ""])
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        self.problems.addTopLevelItem(item)
        item.setExpanded(expanded)
        return item

    @staticmethod
    def _more(section: QTreeWidgetItem, total: int) -> None:
        if total > MAX_ROWS:
            QTreeWidgetItem(section, [f"… and {total - MAX_ROWS:,} more", "the command line lists them all: "
                                      "layerscope dataset FOLDER"])

    def _fill_problems(self, report) -> None:
        self.problems.clear()
        root = Path(report.root)

        def short(path: str) -> str:
            try:
                return str(Path(path).relative_to(root))
            except ValueError:
                return path

        if report.warnings:
            self.warnings.setText("<b>Warnings</b><ul style='margin-left:-20px'>"
                                  + "".join(f"<li>{html.escape(w)}</li>" for w in report.warnings) + "</ul>")
            self.warnings.show()
        confounds = list(getattr(report, "confounds", []))
        if confounds:
            sec = self._section("Confounds: a class one property alone tells apart", len(confounds))
            for c in confounds:
                child = QTreeWidgetItem(sec, [f"{c.cls}: {c.words}",
                                             f"{c.accuracy:.0%} balanced accuracy: {c.detail}. Fix: {c.fix}"])
                child.setToolTip(1, c.sentence())
                child.setForeground(0, QBrush(QColor("#a11")))
        if report.problems:
            sec = self._section("Files that cannot be used", len(report.problems), len(report.problems) < 200)
            for p in report.problems[:MAX_ROWS]:
                child = QTreeWidgetItem(sec, [short(p.path), f"{PROBLEM_KINDS.get(p.kind, p.kind)}: {p.reason}"])
                child.setToolTip(0, p.path)
                child.setToolTip(1, p.reason)
            self._more(sec, len(report.problems))
        if report.duplicates:
            sec = self._section("Exact duplicates", len(report.duplicates), expanded=len(report.duplicates) < 20)
            for g in report.duplicates[:MAX_ROWS]:
                where = "in more than one split" if g.cross_split else "same split"
                child = QTreeWidgetItem(sec, [" = ".join(short(p) for p in g.paths), where])
                child.setToolTip(0, "\n".join(g.paths))
            self._more(sec, len(report.duplicates))
        if report.small_classes:
            sec = self._section("Classes with too few images", len(report.small_classes))
            for c in report.small_classes:
                QTreeWidgetItem(sec, [c, f"{report.counts.get(c, {}).get('train', 0)} training images"])
        if report.ignored:
            sec = self._section("Not used (non-image files, tool and extra folders)", len(report.ignored),
                                expanded=len(report.ignored) < 20)
            for entry in report.ignored[:MAX_ROWS]:
                path, why = _entry_and_reason(entry)
                QTreeWidgetItem(sec, [short(path), why])
            self._more(sec, len(report.ignored))
        if not self.problems.topLevelItemCount():
            item = QTreeWidgetItem(["No problems found: every file is a readable image", ""])
            item.setForeground(0, QBrush(QColor("#2e7d32")))
            self.problems.addTopLevelItem(item)
            item.setFirstColumnSpanned(True)
        self.problems.resizeColumnToContents(0)
        self.problems.setColumnWidth(0, min(self.problems.columnWidth(0), 240))

    def problem_texts(self) -> list[str]:
        """Every line of the problems list (for tests and copying)."""
        out = [self.warnings.text()] if self.warnings.text() else []
        for i in range(self.problems.topLevelItemCount()):
            top = self.problems.topLevelItem(i)
            out.append(top.text(0))
            out += [f"{top.child(j).text(0)}: {top.child(j).text(1)}" for j in range(top.childCount())]
        return out


def _entry_and_reason(entry: str) -> tuple[str, str]:
    """A report's 'PATH (why)' entry -> (PATH, why); a bare path is a file without an image extension."""
    if entry.endswith(")") and " (" in entry:
        path, why = entry[:-1].rsplit(" (", 1)
        return path, why
    return entry, "not an image extension; never used"


def _profile_cell(p, label: str) -> tuple[str, str]:
    """(text, tooltip) of one class's cell in the per-class breakdown."""
    if not p.images:
        return "-", "no readable images"
    if label in ("format", "mode"):
        counts = p.formats if label == "format" else p.modes
        text = " / ".join(f"{k} {v / p.images:.0%}" if len(counts) > 1 else k for k, v in list(counts.items())[:2])
        return text, ", ".join(f"{k}: {v}" for k, v in counts.items())
    if label == "size (median)":
        return (f"{p.width[1]}×{p.height[1]}",
                f"width {p.width[0]}–{p.width[2]} px, height {p.height[0]}–{p.height[2]} px")
    if label == "aspect ratio":
        return f"{p.aspect[1]:.2f}", f"{p.aspect[0]:.2f}–{p.aspect[2]:.2f} (width / height)"
    if label == "file size":
        return f"{p.file_kb[1]:.0f} KB", f"{p.file_kb[0]:.0f}–{p.file_kb[2]:.0f} KB"
    value = getattr(p, label)
    scale = {"brightness": "mean luma, 0-255", "contrast": "std of luma", "colourfulness": "mean channel spread, "
             "0 for grayscale"}[label]
    return ("-" if value is None else f"{value:.0f}"), scale
