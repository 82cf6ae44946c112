"""The run's guards, as callbacks the session installs: divergence (NaN/inf or an exploded loss ends the run as
diverged, with advice that actually helps) and early stopping (finish when the validation metric has not
improved for `patience` epochs; off when 0).

Early stopping is decided from the epoch history alone, so a resumed run counts its patience exactly as if
never stopped. A guard acts through the run's public requests (RunView.finish_early) or by raising
DivergedError, which ends the fit as an error; it never touches the trainer's internals."""
from __future__ import annotations

import math
from collections.abc import Sequence

from core import catalog
from core.training.callbacks import BatchReport, Callback, EpochMetrics, RunView, Validation
from core.training.config import TrainConfig
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


class DivergenceGuard(Callback):
    """Ends the fit with DivergedError when a reported training loss, or an epoch's validation loss, is NaN/inf
    or exploded. Installed first (core.training.session), so a diverged report's losses are never recorded."""

    def __init__(self):
        self._first_loss: float | None = None

    def on_batch_end(self, run: RunView, report: BatchReport) -> None:
        check_divergence(report.losses, self._reference_loss(run, report.losses), report.epoch, report.lr)

    def on_validation_end(self, run: RunView, result: Validation) -> None:
        if result.size and not (math.isfinite(result.loss) and result.loss <= EXPLODED_LOSS):
            raise DivergedError(f"the validation loss became {result.loss:g} after epoch {result.epoch}: the model "
                                f"diverged. {divergence_advice(run.lr)}")

    def _reference_loss(self, run: RunView, losses: list[tuple[int, float]]) -> float | None:
        """The first epoch's mean loss (or, during epoch 1, the first loss seen): what "exploded" is measured
        against."""
        history = run.history
        if history:
            return history[0].train_loss
        if self._first_loss is None:
            self._first_loss = next((v for _, v in losses if math.isfinite(v)), None)
        return self._first_loss


class EarlyStopping(Callback):
    """Finishes the run after an epoch when early_stop_decision says so (the last epoch ends it anyway)."""

    def __init__(self, metric: str, patience: int):
        self.metric, self.patience = metric, patience

    def on_epoch_end(self, run: RunView, metrics: EpochMetrics) -> None:
        if run.epoch >= run.config.epochs:
            return
        decision = early_stop_decision(run.history, self.metric, self.patience)
        if decision is not None:
            run.finish_early(decision)


def guards(config: TrainConfig) -> list[Callback]:
    """The guards a run with these settings gets, in the order they go first among its callbacks."""
    installed: list[Callback] = [DivergenceGuard()]
    if config.early_stop_patience > 0:
        installed.append(EarlyStopping(config.early_stop_metric, config.early_stop_patience))
    return installed
