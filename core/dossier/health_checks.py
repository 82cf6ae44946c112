"""Turn layer-health samples into warnings that name the layer and say what to do.

Thresholds are rules of thumb (Karpathy's ~1e-3 update-to-weight ratio; CS231n's dead-ReLU check); a
warning fires only when the condition holds for `PERSIST` samples in a row, and once per layer and kind.
"""
from __future__ import annotations

import math

PERSIST = 3
EXPLODING_GRAD_TO_WEIGHT = 10.0  # gradient norm this many times the weight norm
VANISHING_GRAD_TO_WEIGHT = 1e-7
UPDATE_RATIO_HIGH = 1e-2  # ten times the ~1e-3 rule of thumb
UPDATE_RATIO_STOPPED = 1e-7
DEAD_SHARE = 0.5


def _conditions(name: str, layer: dict) -> dict[str, str]:
    """{kind: message} for what looks wrong in this one sample."""
    found = {}
    w, g, u = layer.get("weight_norm"), layer.get("grad_norm"), layer.get("update_ratio")
    if g is not None and (not math.isfinite(g) or (w and g / w > EXPLODING_GRAD_TO_WEIGHT)):
        found["exploding"] = (f"{name}: exploding gradients (gradient norm {g:.3g} vs weight norm {w:.3g}); lower "
                              "the learning rate, add gradient clipping or batch norm")
    elif g is not None and w and g / w < VANISHING_GRAD_TO_WEIGHT:
        found["vanishing"] = (f"{name}: vanishing gradients (gradient norm {g:.3g}); check the activations "
                              "(saturated sigmoid/tanh?), add batch norm or residual connections, or raise the lr")
    if u is not None and math.isfinite(u):
        if u > UPDATE_RATIO_HIGH:
            found["lr_high"] = (f"{name}: each step changes the weights by {u:.1e} of their size (healthy is "
                                "about 1e-3); the learning rate is probably too high for this layer: lower it")
        elif u < UPDATE_RATIO_STOPPED:
            found["stopped"] = (f"{name}: has stopped changing (update ratio {u:.1e}); if it is not meant to be "
                                "frozen, raise the learning rate or check that its gradients reach it")
    dead = layer.get("dead_share")
    if dead is not None and dead > DEAD_SHARE:
        found["dead"] = (f"{name}: {dead:.0%} of its units never fired on the sampled batch (dead ReLUs); "
                         "lower the learning rate, use LeakyReLU or check the initialisation")
    return found


class HealthWarnings:
    """Feed samples in step order; returns the warnings that became true with this sample."""

    def __init__(self, persist: int = PERSIST):
        self.persist = persist
        self._streak: dict[tuple[str, str], int] = {}
        self.issued: set[tuple[str, str]] = set()

    def feed(self, layers: dict[str, dict]) -> list[dict]:
        new = []
        seen = set()
        for name, layer in layers.items():
            for kind, message in _conditions(name, layer).items():
                key = (name, kind)
                seen.add(key)
                self._streak[key] = self._streak.get(key, 0) + 1
                urgent = kind == "exploding" and not math.isfinite(layer.get("grad_norm") or 0.0)
                if key not in self.issued and (self._streak[key] >= self.persist or urgent):
                    self.issued.add(key)
                    new.append({"layer": name, "problem": kind, "message": message})
        for key in list(self._streak):
            if key not in seen:
                self._streak[key] = 0
        return new
