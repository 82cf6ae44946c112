"""The per-process status strip of a multi-process run: one small label per process (rank, its status word:
running / paused / evaluating / not responding / interrupted / stopped / finished / failed, last step), from
RUN/ranks/rank-N.json as core/processes/watch.py reads them (core.runs.rank_status.rank_liveness).

A rank file may come from a shared folder: everything it says is shown as plain text (escaped inside the
coloured dot's rich text, and in the tooltip), and at most MAX_SHOWN processes get a label of their own; the
rest are counted in one more label, so thousands of files never become thousands of widgets."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from core.runs.reducer import (DIVERGED, EVALUATING, FAILED, FINISHED, INTERRUPTED, NOT_RESPONDING, PAUSED, RUNNING,
                               STOPPED)

COLOURS = {RUNNING: "#2e7d32", EVALUATING: "#2e7d32", PAUSED: "#ef6c00", NOT_RESPONDING: "#c62828",
           INTERRUPTED: "#c62828", FAILED: "#c62828", DIVERGED: "#c62828", STOPPED: "#6d6d6d", FINISHED: "#1565c0"}
MAX_SHOWN = 16
DOT = "</span> "  # ends the coloured dot of a label's rich text


def rank_text(status: dict) -> str:
    return f"rank {status.get('rank')}: {status.get('liveness', '?')}, step {status.get('step', '–')}"


def _rich(colour: str, text: str) -> str:
    return f"<span style='color:{colour}'>●{DOT}{html.escape(text)}"


def _tooltip(text: str) -> str:
    """Rich text that shows `text` as it is (Qt would render a plain tooltip that looks like HTML as HTML)."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"


class RankStrip(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Processes:")
        self._layout.addWidget(self.title)
        self.labels: list[QLabel] = []
        self.more = QLabel()  # "and N more processes"
        self.more.setTextFormat(Qt.TextFormat.PlainText)
        self.more.setVisible(False)
        self._layout.addWidget(self.more)
        self._layout.addStretch(1)
        self.setVisible(False)

    def clear(self) -> None:
        for label in self.labels:
            label.deleteLater()
        self.labels = []
        self.more.setVisible(False)
        self.setVisible(False)

    @Slot(list)
    def show_ranks(self, statuses: list) -> None:
        shown = statuses[:MAX_SHOWN]
        while len(self.labels) < len(shown):
            label = QLabel()
            label.setTextFormat(Qt.TextFormat.RichText)  # the dot's colour; the words in it are escaped
            self._layout.insertWidget(len(self.labels) + 1, label)
            self.labels.append(label)
        while len(self.labels) > len(shown):
            self.labels.pop().deleteLater()
        for label, status in zip(self.labels, shown):
            label.setText(_rich(COLOURS.get(status.get("liveness"), "#000000"), rank_text(status)))
            tip = f"pid {status.get('pid')} on {status.get('host')}, epoch {status.get('epoch')}"
            if status.get("message"):
                tip += f"\n{status['message']}"
            label.setToolTip(_tooltip(tip))
        hidden = statuses[MAX_SHOWN:]
        if hidden:
            silent = sum(s.get("liveness") in (NOT_RESPONDING, FAILED) for s in hidden)
            self.more.setText(f"and {len(hidden)} more processes" + (
                f" ({silent} not responding or failed)" if silent else ""))
        self.more.setVisible(bool(hidden))
        self.setVisible(bool(statuses))

    def texts(self) -> list[str]:
        """Each process's line as plain text (what a test or a screen reader reads)."""
        return [html.unescape(label.text().split(DOT, 1)[-1]) for label in self.labels]
