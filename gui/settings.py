"""What the app remembers between sessions (QSettings). Where runs are written is core's (core.runs.location).

Form values are stored as one JSON string: QSettings' own typing differs between platforms (ini files give
back strings), JSON gives back exactly what was saved.
"""
from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QSettings

from core.runs.location import APPLICATION  # the settings file is named like the runs folder

ORGANIZATION = "Layerscope"


class AppSettings:
    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)

    # ---- window --------------------------------------------------------------------------------------
    def save_window(self, window) -> None:
        self.q.setValue("window/geometry", window.saveGeometry())
        self.q.setValue("window/state", window.saveState())

    def restore_window(self, window) -> bool:
        geometry = self.q.value("window/geometry")
        state = self.q.value("window/state")
        ok = False
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            ok = window.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            window.restoreState(state)
        return ok

    # ---- the training form and the tabs' options --------------------------------------------------------
    def save_form(self, values: dict) -> None:
        self.save_section("training/form", values)

    def load_form(self) -> dict:
        return self.load_section("training/form")

    def save_section(self, key: str, values: dict) -> None:
        self.q.setValue(key, json.dumps(values))
        self.q.sync()

    def load_section(self, key: str) -> dict:
        raw = self.q.value(key)
        if not raw:
            return {}
        try:
            values = json.loads(str(raw))
        except (TypeError, ValueError):
            return {}  # a damaged entry: fall back to the defaults rather than fail to start
        return values if isinstance(values, dict) else {}

    # ---- misc ----------------------------------------------------------------------------------------
    def value(self, key: str, default: str = "") -> str:
        v = self.q.value(key)
        return str(v) if v is not None else default

    def set_value(self, key: str, value: str) -> None:
        self.q.setValue(key, value)
