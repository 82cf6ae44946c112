"""The per-process status strip of a multi-process run: one small label per process (rank, its status word:
running / paused / evaluating / not responding / interrupted / stopped / finished / failed, last step), from
RUN/ranks/rank-N.json as core/processes/watch.py reads them (core.runs.rank_status.rank_liveness)."""
from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from core.runs.reducer import (DIVERGED, EVALUATING, FAILED, FINISHED, INTERRUPTED, NOT_RESPONDING, PAUSED, RUNNING,
                               STOPPED)

COLOURS = {RUNNING: "#2e7d32", EVALUATING: "#2e7d32", PAUSED: "#ef6c00", NOT_RESPONDING: "#c62828",
           INTERRUPTED: "#c62828", FAILED: "#c62828", DIVERGED: "#c62828", STOPPED: "#6d6d6d", FINISHED: "#1565c0"}


def rank_text(status: dict) -> str:
    return f"rank {status.get('rank')}: {status.get('liveness', '?')}, step {status.get('step', '–')}"


class RankStrip(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Processes:")
        self._layout.addWidget(self.title)
        self.labels: list[QLabel] = []
        self._layout.addStretch(1)
        self.setVisible(False)

    def clear(self) -> None:
        for label in self.labels:
            label.deleteLater()
        self.labels = []
        self.setVisible(False)

    @Slot(list)
    def show_ranks(self, statuses: list) -> None:
        while len(self.labels) < len(statuses):
            label = QLabel()
            self._layout.insertWidget(len(self.labels) + 1, label)
            self.labels.append(label)
        for label, status in zip(self.labels, statuses):
            colour = COLOURS.get(status.get("liveness"), "#000000")
            label.setText(f"<span style='color:{colour}'>●</span> {rank_text(status)}")
            tip = f"pid {status.get('pid')} on {status.get('host')}, epoch {status.get('epoch')}"
            if status.get("message"):
                tip += f"\n{status['message']}"
            label.setToolTip(tip)
        self.setVisible(bool(statuses))

    def texts(self) -> list[str]:
        """Each process's line as plain text (what a test or a screen reader reads)."""
        return [label.text().split("</span> ", 1)[-1] for label in self.labels]
