"""The pinned probe: one image kept on screen while a run trains. Its detail refreshes at every new
checkpoint (the panel does that); while a run is active this also asks the hub for a copy of the live
weights every few seconds, skipping a beat while the last refresh is still being inspected."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QTimer, Slot

from gui.inspector.sources import ImageSource

PROBE_REFRESH_MS = 3000  # a pinned probe asks the running run for fresh weights this often


class PinnedProbe(QObject):
    def __init__(self, hub, busy: Callable[[], bool], parent: QObject | None = None):
        super().__init__(parent)
        self.hub, self._busy = hub, busy
        self.source: ImageSource | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(PROBE_REFRESH_MS)
        self.timer.timeout.connect(self._refresh_live)
        hub.trainingStateChanged.connect(self._follow_training)

    def pin(self, source: ImageSource | None) -> None:
        self.source = source
        self._follow_training(self.hub.is_training())

    def stop(self) -> None:
        self.timer.stop()

    @Slot(bool)
    def _follow_training(self, training: bool) -> None:
        if training and self.source is not None:
            self.timer.start()
        else:
            self.timer.stop()

    def _refresh_live(self) -> None:
        # Never pile up requests on the trainer: wait for the last refresh to be shown.
        if self.source is not None and not self._busy():
            self.hub.request_live_weights()
