"""The errors a fit can end with (beside the I/O and memory errors core.errors translates)."""
from __future__ import annotations

from core.errors import LayerscopeError


class TrainingError(LayerscopeError):
    """Training cannot go on; the message says why and what to change."""

    status = "error"  # how the run folder records the end of the run


class DivergedError(TrainingError):
    """The loss became NaN/inf or exploded: the weights are garbage, so the run is not "done"."""

    status = "diverged"


TrainingDiverged = DivergedError  # one exception for divergence, under either name
