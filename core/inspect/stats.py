"""Summary numbers for one layer's activation: what a teacher points at ("half this layer is zero")."""
from __future__ import annotations

import numpy as np
import torch


def layer_stats(act) -> dict[str, float]:
    """mean, std, min, max, zeros_fraction (elements exactly 0) and dead_fraction (channels of a [C, H, W]
    activation, or units of an [N] one, that are zero everywhere for this input)."""
    t = act.detach().cpu() if isinstance(act, torch.Tensor) else torch.from_numpy(np.asarray(act))
    t = t.float()
    if t.numel() == 0:
        return {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0, "zeros_fraction": 0.0, "dead_fraction": 0.0}
    zero = t == 0
    # Channels for feature maps; for vectors (and scalars) each element is its own unit.
    per_unit = zero.reshape(t.shape[0], -1).all(dim=1) if t.dim() >= 2 else zero.reshape(-1)
    lo, hi = torch.aminmax(t)
    return {
        "mean": float(t.mean()),
        "std": float(t.std(unbiased=False)),
        "min": float(lo),
        "max": float(hi),
        "zeros_fraction": float(zero.float().mean()),
        "dead_fraction": float(per_unit.float().mean()),
    }
