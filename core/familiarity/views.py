"""What familiarity looks at besides the penultimate features: pooled activations of the model's conv blocks.

k-NN on the penultimate features alone (Sun et al. 2022) misses what the classes do not need: a small cnn
trained on four shapes maps a fifth shape, or a drawn digit, close to one of them. Lee et al. 2018 score
each block's pooled activations too and combine the blocks; benchmarks/familiarity.py compared many such
views on a shapes model trained without one shape and kept these (the README has the table):

- the last block, average-pooled to a 2 x 2 grid (where in the image each feature fired): k-NN;
- each block between the first and the last, max-pooled per channel (did any part of the image fire it): k-NN;
- the first block, the mean and spread of each channel (colours, edges, textures): Mahalanobis distance to
  the nearest class under one shared covariance (Lee et al.), which needs no bank rows.

A block is the last module to give a feature map of each size, found with one dry forward pass, so the same
rule fits the small cnn (conv, batch norm, ReLU, max pool) and torchvision's networks (their stages). Models
without feature maps (the MLP) have no views: their familiarity is the penultimate k-NN alone. Every view
comes from the same forward as the prediction (`capture`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from core.models.hooks import Hooks, evaluating, last_linear

POOLS = ("grid2", "max", "mean_std")
METRICS = ("knn", "maha")


@dataclass(frozen=True)
class View:
    layer: str  # the module's name in model.named_modules()
    pool: str  # one of POOLS
    metric: str  # one of METRICS

    @property
    def name(self) -> str:
        """"knn:max:features.6": how files name it (the layer last: module names hold dots, never colons)."""
        return f"{self.metric}:{self.pool}:{self.layer}"

    @classmethod
    def from_name(cls, name: str) -> "View":
        metric, pool, layer = (name.split(":", 2) + ["", ""])[:3]
        if metric not in METRICS or pool not in POOLS or not layer:
            raise ValueError(f"{name[:80]!r} is not a familiarity view")
        return cls(layer, pool, metric)


def pooled(output: torch.Tensor, pool: str) -> torch.Tensor:
    """A feature map [N, C, H, W] -> one row per image."""
    x = output.float()
    if pool == "grid2":
        return nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)
    if pool == "max":
        return x.amax(dim=(2, 3))
    return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3), unbiased=False)], dim=1)


def feature_map_blocks(model: nn.Module, example: torch.Tensor) -> list[str]:
    """The module names that end each feature-map size, shallow to deep: for every size (H, W) larger than
    1 x 1, the last module of the forward pass whose output has that size."""
    head = last_linear(model)
    skip = {"", head[0] if head else ""}
    events: list[tuple[str, tuple[int, int]]] = []

    def seen(name, _inputs, output):
        if name not in skip and torch.is_tensor(output) and output.ndim == 4 and output.shape[2] * output.shape[3] > 1:
            events.append((name, (int(output.shape[2]), int(output.shape[3]))))

    modules = [(name, module) for name, module in model.named_modules() if name not in skip]
    with Hooks(modules, seen, skip_refused=True), evaluating(model), torch.inference_mode():
        model(example)
    last: dict[tuple[int, int], str] = {}
    order: list[tuple[int, int]] = []
    for name, size in events:
        if size not in last:
            order.append(size)
        last[size] = name
    return [last[size] for size in order]


def plan_views(model: nn.Module, example: torch.Tensor) -> list[View]:
    """The views of a model (see the module's docstring); `example`: one input batch (any values) of the
    model's input size, on its device."""
    blocks = feature_map_blocks(model, example[:1])
    if not blocks:
        return []
    views = [View(blocks[-1], "grid2", "knn")]
    views += [View(block, "max", "knn") for block in blocks[1:-1]]
    if len(blocks) >= 2:
        views.append(View(blocks[0], "mean_std", "maha"))
    return views


def capture(model: nn.Module, x: torch.Tensor, views: list[View]
            ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(penultimate features [N, D], output [N, K], {view name: [N, d]}) of ONE eval-mode forward pass under
    inference mode; everything detached, on the model's device."""
    head = last_linear(model)
    if head is None:
        raise ValueError(f"{type(model).__name__} has no Linear layer: it has no penultimate features")
    modules = dict(model.named_modules())
    by_layer: dict[str, list[View]] = {}
    for view in views:
        by_layer.setdefault(view.layer, []).append(view)
    rows: dict[str, torch.Tensor] = {}
    inputs: dict[str, torch.Tensor] = {}

    def keep_map(name, _inputs, output):
        # Pooled at once (a later in-place op may change the map); a module called twice keeps its last call.
        for view in by_layer[name]:
            rows[view.name] = pooled(output, view.pool)

    def keep_head_input(_name, args, _output):
        inputs["features"] = args[0]

    missing = sorted(set(by_layer) - set(modules))
    if missing:
        raise ValueError(f"the model has no layer {missing[0]!r}: these familiarity views are of another model")
    with Hooks({name: modules[name] for name in by_layer}, keep_map), \
            Hooks({head[0]: head[1]}, keep_head_input, before=True), evaluating(model), torch.inference_mode():
        output = model(x)
    if "features" not in inputs:
        raise ValueError(f"{type(model).__name__}'s last Linear layer ({head[0]}) did not run in its forward pass")
    return inputs["features"].flatten(1), output, rows
