"""The one place the GUI keeps "the current model": a checkpoint (CPU weights, spec, classes, preprocess) and
where it came from (a typed Provenance, not display text).

Panels listen to `checkpointChanged` instead of reaching into each other. While a run trains, the training
controller attaches itself here (anything with a `request_weights(receive)`), so `request_live_weights()` can
fetch a copy of the weights the run takes at its next batch boundary (the run is another process: it writes a
snapshot file that the controller loads off the GUI thread). The GUI never holds the live model: it only ever
receives copies.

This module must stay importable before torch is loaded (the window shows first), so core is only named
for type checkers here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol, Union

from PySide6.QtCore import QObject, Qt, Signal, Slot

if TYPE_CHECKING:  # pragma: no cover
    from core.checkpoints.checkpoint import Checkpoint


# ---- provenance: where the current model came from ---------------------------------------------------
@dataclass(frozen=True)
class TrainedEpoch:
    """The app's own run, at the end of `epoch` (the run folder's last.pt holds the same weights)."""
    epoch: int

    def __str__(self) -> str:
        return f"training epoch {self.epoch}"


@dataclass(frozen=True)
class StoppedAt:
    """The app's own run, stopped by the user at `step` (last.pt holds the same weights)."""
    step: int

    def __str__(self) -> str:
        return f"stopped at step {self.step}"


@dataclass(frozen=True)
class LiveWeights:
    """A copy of a running run's weights, taken at a batch boundary at `step`."""
    step: int

    def __str__(self) -> str:
        return f"live weights (step {self.step})"


@dataclass(frozen=True)
class OpenedFromFile:
    path: str

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class Described:
    """Any other source, with a text to show (tests, tools)."""
    text: str

    def __str__(self) -> str:
        return self.text


Provenance = Union[TrainedEpoch, StoppedAt, LiveWeights, OpenedFromFile, Described]


def saved_by_the_run(provenance: Provenance | None) -> bool:
    """True when the run folder's last.pt holds this very model (with its training state)."""
    return isinstance(provenance, (TrainedEpoch, StoppedAt))


class WeightsSource(Protocol):
    """What the hub needs of a running run: a request for a copy of its weights, answered later (on any thread)."""

    def request_weights(self, receive: Callable[["Checkpoint", int], None]) -> None: ...


class ModelHub(QObject):
    checkpointChanged = Signal(object)  # Checkpoint or None
    trainingStateChanged = Signal(bool)  # True while a run is active (running or paused)

    # Internal: carries a live copy over to the GUI thread (queued), whichever thread it arrives on.
    _liveCheckpoint = Signal(object, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._checkpoint: Checkpoint | None = None
        self._provenance: Provenance | None = None
        self._run: WeightsSource | None = None
        self._liveCheckpoint.connect(self._on_live_checkpoint, Qt.ConnectionType.QueuedConnection)

    # ---- the current model ---------------------------------------------------------------------------
    def current(self) -> Checkpoint | None:
        return self._checkpoint

    def provenance(self) -> Provenance | None:
        return self._provenance

    def source(self) -> str:
        """Where the current checkpoint came from, for display (a file path, 'training epoch 3', ...)."""
        return str(self._provenance) if self._provenance is not None else ""

    def set_checkpoint(self, ckpt: Checkpoint | None, provenance: Provenance | str = "") -> None:
        if isinstance(provenance, str):
            provenance = Described(provenance)
        self._checkpoint = ckpt
        self._provenance = provenance if ckpt is not None else None
        self.checkpointChanged.emit(ckpt)

    # ---- the run in progress -------------------------------------------------------------------------
    def attach_run(self, run: WeightsSource) -> None:
        self._run = run
        self.trainingStateChanged.emit(True)

    def detach_run(self) -> None:
        if self._run is None:
            return
        self._run = None
        self.trainingStateChanged.emit(False)

    def is_training(self) -> bool:
        return self._run is not None

    def request_live_weights(self) -> bool:
        """Ask the running run for a copy of its weights; `checkpointChanged` follows when it arrives.
        Returns False when no run is active."""
        if self._run is None:
            return False
        # `receive` may run on another thread: hand the copy over by queued signal.
        self._run.request_weights(lambda ckpt, step: self._liveCheckpoint.emit(ckpt, LiveWeights(step)))
        return True

    @Slot(object, object)
    def _on_live_checkpoint(self, ckpt, provenance) -> None:
        self.set_checkpoint(ckpt, provenance)
