"""The run's guards: when a run has diverged (NaN/inf or an exploded loss), with advice that actually helps,
and early stopping (stop when the validation metric has not improved for `patience` epochs; off when 0).

Early stopping is decided from the epoch history alone, so a resumed run counts its patience exactly as if
never stopped."""
from __future__ import annotations

import math
from collections.abc import Sequence

from core import catalog
from core.training.callbacks import EpochMetrics
from core.training.errors import DivergedError

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


def early_stop_decision(history: Sequence[EpochMetrics], metric: str, patience: int) -> dict | None:
    """None to go on; otherwise what the early_stop record says (epoch, metric, patience, best, best_epoch)."""
    if patience <= 0 or not history:
        return None
    sign = -1.0 if metric == "val_loss" else 1.0  # lower loss is better, higher accuracy is better
    scored = [(sign * getattr(m, metric), m.epoch) for m in history if math.isfinite(getattr(m, metric))]
    if not scored:
        return None
    best_score, best_epoch = max(scored, key=lambda t: (t[0], -t[1]))  # ties: the first epoch that reached it
    last_epoch = history[-1].epoch
    if last_epoch - best_epoch < patience:
        return None
    return {"epoch": last_epoch, "metric": metric, "patience": patience, "best": sign * best_score,
            "best_epoch": best_epoch}
