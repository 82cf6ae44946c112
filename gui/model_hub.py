"""The one place the GUI keeps "the current model": a checkpoint (CPU weights, spec, classes, preprocess).

Panels listen to `checkpointChanged` instead of reaching into each other. While a run trains, the training
controller attaches its Trainer here, so `request_live_weights()` can fetch a copy of the weights at the next
batch boundary without ever touching the live model from the GUI thread.

This module must stay importable before torch is loaded (the window shows first), so core is only named
for type checkers here and imported lazily where it is used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot

if TYPE_CHECKING:  # pragma: no cover
    from core.checkpoint import Checkpoint
    from core.trainer import Trainer


class ModelHub(QObject):
    checkpointChanged = Signal(object)  # Checkpoint or None
    trainingStateChanged = Signal(bool)  # True while a run is active (running or paused)

    # Internal: carries a checkpoint built on the training thread over to the GUI thread (queued).
    _liveCheckpoint = Signal(object, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._checkpoint: Checkpoint | None = None
        self._source = ""
        self._trainer: Trainer | None = None
        self._liveCheckpoint.connect(self._on_live_checkpoint, Qt.ConnectionType.QueuedConnection)

    # ---- the current model ---------------------------------------------------------------------------
    def current(self) -> Checkpoint | None:
        return self._checkpoint

    def source(self) -> str:
        """Where the current checkpoint came from (a file path, 'training epoch 3', ...), for display."""
        return self._source

    def set_checkpoint(self, ckpt: Checkpoint | None, source: str = "") -> None:
        self._checkpoint = ckpt
        self._source = source if ckpt is not None else ""
        self.checkpointChanged.emit(ckpt)

    # ---- the run in progress -------------------------------------------------------------------------
    def attach_trainer(self, trainer: Trainer) -> None:
        self._trainer = trainer
        self.trainingStateChanged.emit(True)

    def detach_trainer(self) -> None:
        if self._trainer is None:
            return
        self._trainer = None
        self.trainingStateChanged.emit(False)

    def is_training(self) -> bool:
        return self._trainer is not None

    def request_live_weights(self) -> bool:
        """Ask the running trainer for a copy of its weights; `checkpointChanged` follows when it arrives.
        Returns False when no run is active."""
        trainer = self._trainer
        if trainer is None:
            return False
        spec, classes, preprocess = trainer.model_spec, list(trainer.data.classes), trainer.data.preprocess

        def receive(state: dict) -> None:  # runs on the training thread, at a batch boundary
            from core.checkpoint import Checkpoint

            metrics = trainer.history[-1].to_dict() if trainer.history else {}
            ckpt = Checkpoint(spec, classes, preprocess, state, None, metrics)
            self._liveCheckpoint.emit(ckpt, f"live weights (step {trainer.step})")

        trainer.request_weights(receive)
        return True

    @Slot(object, str)
    def _on_live_checkpoint(self, ckpt, source: str) -> None:
        self.set_checkpoint(ckpt, source)
