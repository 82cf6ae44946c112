"""File > Recent: the checkpoints, run folders and datasets opened lately, newest first, remembered between
sessions (QSettings, one JSON list). Choosing one opens it the way it was opened; one that is gone says so.

    recent = RecentMenu(window.app_settings, window)
    recent.add("checkpoint", path)      # after it opened
    recent.chosen.connect(open_it)      # (kind, path)
"""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QWidget

KEY = "recent/items"
LIMIT = 10
KINDS = {"checkpoint": "Checkpoint", "run": "Run", "dataset": "Dataset"}


class RecentMenu(QMenu):
    chosen = Signal(str, str)  # kind, path

    def __init__(self, settings, parent: QWidget | None = None):
        super().__init__("Open &Recent", parent)
        self.settings = settings
        self.items: list[tuple[str, str]] = self._remembered()
        self._rebuild()

    def _remembered(self) -> list[tuple[str, str]]:
        try:
            raw = json.loads(self.settings.value(KEY, "[]") or "[]")
        except ValueError:
            return []  # a damaged setting: start empty rather than fail
        items = [(k, p) for k, p in (raw if isinstance(raw, list) else [])
                 if isinstance(k, str) and isinstance(p, str) and k in KINDS]
        return items[:LIMIT]

    def add(self, kind: str, path: str) -> None:
        """`path` was opened as `kind`: it goes first (once)."""
        path = str(Path(path).expanduser())
        self.items = [(kind, path)] + [item for item in self.items if item != (kind, path)]
        del self.items[LIMIT:]
        self.settings.set_value(KEY, json.dumps(self.items))
        self._rebuild()

    def clear_items(self) -> None:
        self.items = []
        self.settings.set_value(KEY, "[]")
        self._rebuild()

    def _rebuild(self) -> None:
        self.clear()
        if not self.items:
            self.addAction("Nothing opened yet").setEnabled(False)
            return
        for kind, path in self.items:
            name = Path(path).name or path
            action = self.addAction(f"{name}  —  {KINDS[kind]}, {Path(path).parent}")
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, k=kind, p=path: self.chosen.emit(k, p))
        self.addSeparator()
        self.addAction("Clear the list", self.clear_items)
