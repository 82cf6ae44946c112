"""Early stopping: stop when the validation metric has not improved for `patience` epochs (off when 0).

Decided from the epoch history alone, so a resumed run counts its patience exactly as if never stopped."""
from __future__ import annotations

import math
from collections.abc import Sequence

from core.training.callbacks import EpochMetrics


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
