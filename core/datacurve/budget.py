"""Equal training budgets for the data-size curve: every fraction trains for about as many optimizer steps as
the full training split would take, so a small subset runs more epochs (about epochs / fraction).

Why: with the same number of epochs a 10 % subset gets a tenth of the steps, ends undertrained, and the curve
measures the budget rather than the data (it bends down at small n and the fit under-predicts). Learning-curve
studies hold the optimization budget fixed across subset sizes or train each to convergence (Hestness et al.
2017, "Deep Learning Scaling is Predictable, Empirically"; Mahmood et al. 2022, "How Much More Data Do I
Need?"). The trainer's budget is in epochs, so the steps are matched by the epoch count: its schedule (cosine
over the run's epochs) then spans the whole longer run, and the epoch-counted settings (the step schedule's step
size, early-stopping patience) are stretched by the same factor."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

MAX_EPOCH_FACTOR = 20  # a fraction under 1/20 trains at most 20x the epochs (fewer steps than the full run)
MAX_EPOCHS = 10_000  # core.catalog's limit on epochs


def batches_per_epoch(images: int, batch_size: int) -> int:
    return max(1, math.ceil(images / max(1, batch_size)))  # the loader keeps the last, smaller batch


@dataclass(frozen=True)
class Budget:
    epochs: int  # this fraction's epochs
    steps: int  # optimizer steps they take
    full_epochs: int  # the settings' epochs (what the full split trains)
    full_steps: int  # the steps the full split takes in them
    factor: float  # epochs / full_epochs

    def to_dict(self) -> dict:
        return {"budget": "equal optimizer steps", "epochs": self.epochs, "steps": self.steps,
                "full_epochs": self.full_epochs, "full_steps": self.full_steps}


def equal_steps(epochs: int, batch_size: int, subset_images: int, full_images: int) -> Budget:
    """The epochs a subset of `subset_images` needs to take the steps `epochs` take on `full_images`."""
    full_steps = batches_per_epoch(full_images, batch_size) * epochs
    per_epoch = batches_per_epoch(subset_images, batch_size)
    wanted = math.ceil(full_steps / per_epoch)
    cap = min(MAX_EPOCHS, max(epochs, epochs * MAX_EPOCH_FACTOR))
    chosen = max(epochs, min(wanted, cap))
    return Budget(chosen, chosen * per_epoch, epochs, full_steps, chosen / max(1, epochs))


def stretched(train, budget: Budget):
    """The TrainConfig `train` with the budget's epochs and its epoch-counted settings scaled alike."""
    factor = budget.factor
    changes = {"epochs": budget.epochs}
    if getattr(train, "step_size", 0):
        changes["step_size"] = min(MAX_EPOCHS, max(1, round(train.step_size * factor)))
    if getattr(train, "early_stop_patience", 0):
        changes["early_stop_patience"] = min(MAX_EPOCHS, max(1, round(train.early_stop_patience * factor)))
    return replace(train, **changes)
