"""The numbers beside every picture, because such pictures can mislead (Geirhos et al. 2023):

- how strongly the picture excites its unit relative to the dataset image that excites it most (the top
  real image: from a pass over a few hundred dataset images, or the Dossier's top-k result when it has the
  layer, ranked by the same measure);
- for a layer that reads the picture itself (a first layer), how closely the picture matches the unit's
  own weights: such a unit is linear in the picture, so the optimum is known (the filter pattern; see
  optimize.first_layer_penalty) and the correlation checks the whole pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from core.featurevis.units import every_unit_value, layer_output
from core.models.hooks import evaluating, model_device
from core.progress import NO_PROGRESS, Progress


@dataclass
class RealTop:
    """The strongest real activation per unit and which dataset item gave it."""

    values: dict[int, float]
    indices: dict[int, int]  # dataset index; -1 when it came from a Dossier file that did not say
    source: str  # what was searched, for the JSON beside the pictures


def real_top_from_dataset(model: nn.Module, dataset: Dataset, layer: str, units: list[int], *, source: str,
                          max_images: int = 512, batch_size: int = 64,
                          progress: Progress = NO_PROGRESS) -> RealTop:
    """One inference pass over the first `max_images` items of `dataset` (yielding (tensor, label)); the pass
    stops at `layer`. Cancel is checked before every batch."""
    device = model_device(model)
    count = min(len(dataset), max_images)
    loader = DataLoader(Subset(dataset, range(count)), batch_size=batch_size, shuffle=False)
    best = torch.full((len(units),), float("-inf"))
    where = torch.full((len(units),), -1, dtype=torch.long)
    seen = 0
    with evaluating(model), torch.inference_mode():
        for inputs, _labels in loader:
            progress.check_cancelled()
            out = layer_output(model, layer, inputs.to(device)).float().cpu()
            top, arg = every_unit_value(out, units).max(dim=0)  # per unit, over this batch
            better = top > best
            best = torch.where(better, top, best)
            where = torch.where(better, arg + seen, where)
            seen += len(inputs)
            progress.update(seen, count, f"real images: {seen}/{count}")
    return RealTop({u: float(best[i]) for i, u in enumerate(units) if seen},
                   {u: int(where[i]) for i, u in enumerate(units) if seen}, f"{source} ({seen} images)")


def real_top_from_dossier(topk, layer: str, units: list[int]) -> RealTop | None:
    """The Dossier's top-1 per unit (core.dossier.topk.TopKResult) when it has `layer` ranked by activation
    (its output layer is ranked by log-probability, not comparable); None otherwise."""
    entry = getattr(topk, "layers", {}).get(layer)
    if entry is None or entry.ranked_by != "activation" or entry.values.ndim != 2 or entry.values.shape[1] < 1:
        return None
    if max(units) >= entry.values.shape[0]:
        return None
    values = {u: float(entry.values[u, 0]) for u in units if np.isfinite(entry.values[u, 0])}
    indices = {u: int(entry.indices[u, 0]) for u in values}
    return RealTop(values, indices, f"the Dossier's top images ({topk.images} images)")


def ratio(synthetic: float, real: float | None) -> float | None:
    """synthetic / real: > 1 means the picture excites the unit more than any real image searched. Only
    defined for a positive real top (a unit that no real image turns on has no scale to compare with)."""
    if real is None or not np.isfinite(real) or real <= 0 or not np.isfinite(synthetic):
        return None
    return synthetic / real


def weight_correlations(module: nn.Module, x: torch.Tensor, units: list[int],
                        positions: list[tuple[int, int] | None]) -> list[float | None]:
    """Pearson correlation between each picture (normalised as the model sees it) and its unit's weights: for
    a Conv2d, the patch under the strongest position; for a Linear, the whole flattened picture."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor):
        return [None] * len(units)
    w = weight.detach().float().cpu()
    x = x.detach().float().cpu()
    if isinstance(module, nn.Linear) and x[0].numel() == w.shape[1]:
        return [_pearson(x[b].flatten(), w[u]) for b, u in enumerate(units)]
    if isinstance(module, nn.Conv2d) and module.groups == 1 and isinstance(module.padding, tuple) \
            and module.padding_mode == "zeros":
        cols = F.unfold(x, module.kernel_size, dilation=module.dilation, padding=module.padding,
                        stride=module.stride)  # [B, C*k*k, positions]
        width = _out_width(x.shape[-1], module)
        return [None if pos is None else _pearson(cols[b, :, pos[0] * width + pos[1]], w[u].flatten())
                for b, (u, pos) in enumerate(zip(units, positions))]
    return [None] * len(units)


def _out_width(width: int, conv: nn.Conv2d) -> int:
    k, s, p, d = conv.kernel_size[1], conv.stride[1], conv.padding[1], conv.dilation[1]
    return (width + 2 * p - d * (k - 1) - 1) // s + 1


def _pearson(a: torch.Tensor, b: torch.Tensor) -> float | None:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(a.norm() * b.norm())
    return float((a * b).sum()) / denominator if denominator > 0 else None
