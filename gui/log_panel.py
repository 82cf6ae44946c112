"""The log panel: timestamped lines (run start, epoch metrics, warnings, errors) in a read-only view.

It also shows the GUI's Python log (warnings and errors of the `gui` loggers, tracebacks included): when a
background task hits a bug, the user reads "internal error, details in the log" and the details are here.
"""
from __future__ import annotations

import html
import logging
from datetime import datetime

from PySide6.QtCore import QObject, Signal
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


class _Relay(QObject):
    line = Signal(str, str)  # level, text


class PanelLogHandler(logging.Handler):
    """Python log records, from any thread, appended to a LogPanel on the GUI thread (a queued signal).
    `attach()` listens to the `gui` loggers until the panel is destroyed or `detach()` is called."""

    def __init__(self, panel: LogPanel, logger: str = "gui"):
        super().__init__(logging.WARNING)
        self.logger = logging.getLogger(logger)
        self._relay = _Relay(panel)  # lives on the panel's (GUI) thread: emits from workers are queued
        self._relay.line.connect(panel.append)
        self.setFormatter(logging.Formatter("%(message)s"))

    def attach(self) -> "PanelLogHandler":
        self.logger.addHandler(self)
        self._relay.destroyed.connect(lambda *_: self.detach())  # the panel went away without a close
        return self

    def detach(self) -> None:
        self.logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._relay.line.emit("error" if record.levelno >= logging.ERROR else "warning", self.format(record))
        except RuntimeError:  # the panel was deleted meanwhile
            self.detach()
