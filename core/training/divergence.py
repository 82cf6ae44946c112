"""When a run has diverged (NaN/inf or an exploded loss), and advice that actually helps."""
from __future__ import annotations

import math

from core import catalog
from core.training.config import DivergedError

EXPLODED_LOSS = 1e6  # cross-entropy of a working classifier stays far below this
EXPLODED_GROWTH = 1000.0  # or a loss this many times the first epoch's


def divergence_advice(lr: float) -> str:
    """A learning rate known to be safe: a hundredth of this one, never above the usual default."""
    safe = min(lr / 100, catalog.LEARNING_RATE.default)
    return (f"The learning rate {lr:g} is probably too high: train again with --lr {safe:g}, and check the data "
            "for broken images or extreme pixel values")


def check_divergence(losses: list[tuple[int, float]], reference: float | None, epoch: int, lr: float) -> None:
    for step, value in losses:
        if not math.isfinite(value):
            raise DivergedError(f"the training loss became {value} at step {step} (epoch {epoch}). "
                                   f"{divergence_advice(lr)}")
        # The growth test has a floor of 1.0: a fine-tuned model starting near 0 may rise without diverging.
        if value > EXPLODED_LOSS or (reference is not None and value > max(reference, 1.0) * EXPLODED_GROWTH):
            raise DivergedError(f"the training loss exploded to {value:g} at step {step} (epoch {epoch}"
                                   + (f", from {reference:g} at the start" if reference else "")
                                   + f"): the model diverged. {divergence_advice(lr)}")
