"""The log panel: timestamped lines (run start, epoch metrics, warnings, errors) in a read-only view."""
from __future__ import annotations

import html
from datetime import datetime

from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

LEVEL_COLOURS = {"debug": "#777777", "info": "#202020", "warning": "#b06000", "error": "#c01010"}
MAX_LINES = 20_000  # old lines drop off so a long session cannot grow without bound


class LogPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_LINES)
        self.view.setObjectName("logView")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.lines: list[tuple[str, str]] = []  # (level, text), for tests and "copy log"

    def append(self, level: str, text: str) -> None:
        level = level if level in LEVEL_COLOURS else "info"
        stamp = datetime.now().strftime("%H:%M:%S")
        self.lines.append((level, text))
        del self.lines[:-MAX_LINES]
        tag = "" if level == "info" else f"{level.upper()}: "
        body = html.escape(f"{stamp}  {tag}{text}").replace("\n", "<br>")
        self.view.appendHtml(f'<span style="color:{LEVEL_COLOURS[level]}; white-space:pre-wrap">{body}</span>')

    def text(self) -> str:
        return self.view.toPlainText()

    def clear(self) -> None:
        self.lines.clear()
        self.view.clear()
