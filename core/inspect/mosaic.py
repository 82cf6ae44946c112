"""Feature maps as one mosaic image: a layer's C channels of H x W tiled in a grid, built with array ops
(no per-channel Python loop), so a whole layer is painted as a single image."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

SCALINGS = ("channel", "layer")


@dataclass
class Mosaic:
    """`image` is float32 [rows*tile_h + (rows-1)*pad, cols*tile_w + (cols-1)*pad] in [0, 1]: tiles are
    separated by `pad` pixels of `pad_value`, with no outer border. Tile k sits at row k // cols, col k % cols."""

    image: np.ndarray
    rows: int
    cols: int
    tile_h: int
    tile_w: int
    pad: int
    channels: int = 0

    def channel_at(self, x: float, y: float) -> int | None:
        """The channel whose tile contains image pixel (x, y) (column, row), or None for padding / outside."""
        if x < 0 or y < 0:
            return None
        x, y = int(x), int(y)
        step_w, step_h = self.tile_w + self.pad, self.tile_h + self.pad
        col, in_x = divmod(x, step_w)
        row, in_y = divmod(y, step_h)
        if col >= self.cols or row >= self.rows or in_x >= self.tile_w or in_y >= self.tile_h:
            return None
        channel = row * self.cols + col
        return channel if channel < self.channels else None

    def tile_rect(self, channel: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of a channel's tile in the image."""
        if not 0 <= channel < self.channels:
            raise IndexError(f"channel {channel} is outside 0..{self.channels - 1}")
        row, col = divmod(channel, self.cols)
        return col * (self.tile_w + self.pad), row * (self.tile_h + self.pad), self.tile_w, self.tile_h

    def tile(self, channel: int) -> np.ndarray:
        x, y, w, h = self.tile_rect(channel)
        return self.image[y:y + h, x:x + w]


def _as_tensor(act) -> torch.Tensor:
    t = torch.from_numpy(np.asarray(act)) if not isinstance(act, torch.Tensor) else act.detach().cpu()
    return t.float()


def _normalise(t: torch.Tensor, scaling: str) -> torch.Tensor:
    """[C, ...] -> values in [0, 1]; a constant channel (or layer) becomes 0. NaN/inf count as 0."""
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {', '.join(SCALINGS)} (got {scaling!r})")
    t = torch.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0)
    if scaling == "layer" or t.dim() == 1:
        lo, hi = t.min(), t.max()
    else:
        flat = t.reshape(t.shape[0], -1)
        lo_, hi_ = torch.aminmax(flat, dim=1)
        shape = (t.shape[0],) + (1,) * (t.dim() - 1)
        lo, hi = lo_.view(shape), hi_.view(shape)
    span = hi - lo
    return (t - lo) / torch.where(span > 0, span, torch.ones_like(span))


def grid_shape(channels: int, tile_h: int = 1, tile_w: int = 1, columns: int | None = None) -> tuple[int, int]:
    """(rows, cols): the given columns, else a grid whose pixel shape is close to square."""
    if columns is None:
        columns = max(1, math.ceil(math.sqrt(channels * tile_h / max(tile_w, 1))))
    cols = max(1, min(int(columns), channels))
    return math.ceil(channels / cols), cols


def feature_mosaic(act, scaling: str = "channel", columns: int | None = None, pad: int = 1,
                   pad_value: float = 0.0) -> Mosaic:
    """A [C, H, W] activation (numpy or tensor) -> Mosaic. [H, W] is one channel; [N] (or [C, 1, 1]) is one
    row of units, scaled as a layer, with one 1x1 tile per unit and no padding.

    scaling="channel": each channel stretched to its own min..max (shows every channel's pattern);
    "layer": one min..max for the whole layer (shows which channels are strong)."""
    t = _as_tensor(act)
    if t.dim() == 1:
        return Mosaic(vector_image(t), 1, t.shape[0], 1, 1, 0, t.shape[0])
    if t.dim() == 3 and t.shape[1] * t.shape[2] == 1:  # [C, 1, 1] after global pooling: a row of units
        t = t.reshape(-1)
        return Mosaic(vector_image(t), 1, t.shape[0], 1, 1, 0, t.shape[0])
    if t.dim() == 2:
        t = t.unsqueeze(0)
    elif t.dim() > 3:
        t = t.reshape(-1, *t.shape[-2:])
    if t.numel() == 0:
        raise ValueError(f"cannot draw an empty activation of shape {tuple(t.shape)}")
    pad = max(0, int(pad))
    c, h, w = t.shape
    rows, cols = grid_shape(c, h, w, columns)
    t = _normalise(t, scaling)
    # [C, H, W] -> [rows*cols, H+pad, W+pad] (padding channels filled), then a grid [rows*(H+pad), cols*(W+pad)].
    grid = torch.full((rows * cols, h + pad, w + pad), float(pad_value), dtype=torch.float32)
    grid[:c, :h, :w] = t
    image = grid.view(rows, cols, h + pad, w + pad).permute(0, 2, 1, 3).reshape(rows * (h + pad), cols * (w + pad))
    if pad:
        image = image[:-pad, :-pad]
    return Mosaic(np.ascontiguousarray(image.numpy()), rows, cols, h, w, pad, c)


def vector_image(act, height: int = 1) -> np.ndarray:
    """A linear layer's [N] output as a float32 strip [height, N] in [0, 1] (one min..max for the layer)."""
    t = _as_tensor(act).reshape(-1)
    strip = _normalise(t, "layer").numpy().astype(np.float32, copy=False)
    return np.repeat(strip[None, :], max(1, int(height)), axis=0)


@lru_cache(maxsize=16)
def colormap_lut(name: str = "viridis") -> np.ndarray:
    """A matplotlib colormap as a [256, 3] uint8 lookup table."""
    import matplotlib  # lazy: only the export paths need it

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise ValueError(f"unknown colormap {name!r}; try viridis, magma, inferno, gray or jet") from None
    return (cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)


def to_rgb8(image: np.ndarray, colormap: str = "viridis") -> np.ndarray:
    """A 2-D float image in [0, 1] -> uint8 RGB [H, W, 3] through a colormap (for PNG export)."""
    img = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0)
    index = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return colormap_lut(colormap)[index]
