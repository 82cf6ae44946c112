"""First-layer filters as one RGB mosaic: what the network looks for in raw pixels (colours, edges)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn


def _first(model: nn.Module, kind: type) -> nn.Module | None:
    return next((m for m in model.modules() if isinstance(m, kind)), None)


def _tile_rgb(tiles: np.ndarray, pad: int, pad_value: int) -> np.ndarray:
    """uint8 [N, h, w, 3] -> one uint8 [H, W, 3] grid, near square, `pad` pixels between tiles."""
    n, h, w, _ = tiles.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * cols, h + pad, w + pad, 3), pad_value, dtype=np.uint8)
    grid[:n, :h, :w] = tiles
    image = grid.reshape(rows, cols, h + pad, w + pad, 3).transpose(0, 2, 1, 3, 4)
    image = image.reshape(rows * (h + pad), cols * (w + pad), 3)
    return np.ascontiguousarray(image[:-pad, :-pad] if pad else image)


def _to_rgb_tiles(weights: torch.Tensor) -> np.ndarray:
    """[N, C, h, w] float -> uint8 [N, h, w, 3], each filter scaled on its own around zero: a weight of 0 is
    mid-grey (128), the filter's largest |weight| black (negative) or full brightness (positive), so a colour
    bar from -max through 0 to +max reads every tile. 3 input channels are shown as colour; any other count
    as grey (the mean over input channels)."""
    w = torch.nan_to_num(weights.detach().float().cpu(), nan=0.0, posinf=0.0, neginf=0.0)
    if w.shape[1] != 3:
        w = w.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    largest = w.reshape(w.shape[0], -1).abs().max(dim=1).values
    largest = torch.where(largest > 0, largest, torch.ones_like(largest))
    scaled = 0.5 + 0.5 * w / largest.view(-1, 1, 1, 1)
    return (scaled.permute(0, 2, 3, 1).numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)


def _linear_templates(linear: nn.Linear, max_filters: int) -> torch.Tensor | None:
    """An MLP's first Linear layer reads a flattened image: each unit's weights reshaped to [C, S, S] are
    the "template" it matches. Only possible when in_features is 3*S*S or S*S."""
    n = linear.in_features
    for channels in (3, 1):
        side = math.isqrt(n // channels)
        if side * side * channels == n:
            return linear.weight[:max_filters].reshape(-1, channels, side, side)
    return None


def first_layer_filters(model: nn.Module, max_filters: int = 64, scale: int = 1, pad: int = 1,
                        pad_value: int = 255) -> np.ndarray | None:
    """The first Conv2d's filters as a uint8 [H, W, 3] mosaic (grayscale input -> gray filters); for a
    model with no Conv2d, the first Linear layer's weights as image templates; None if neither applies.
    `scale` enlarges each weight to scale x scale pixels (3x3 kernels are tiny on screen); tiles are `pad`
    white pixels apart (grey is a weight of 0)."""
    with torch.no_grad():
        conv = _first(model, nn.Conv2d)
        if conv is not None:
            weights = conv.weight[:max_filters]
        else:
            linear = _first(model, nn.Linear)
            weights = _linear_templates(linear, max_filters) if linear is not None else None
        if weights is None or weights.numel() == 0:
            return None
        tiles = _to_rgb_tiles(weights)
    if scale > 1:
        tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    return _tile_rgb(tiles, pad, pad_value)
