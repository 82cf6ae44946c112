"""Feature maps as one mosaic image: a layer's C channels of H x W tiled in a grid, so a whole layer is
painted as a single image.

Built with numpy: normalised in one vectorised pass, then copied into place in the final image through a
strided view (no per-channel Python loop, no intermediate grid). numpy rather than torch on purpose: these are small,
memory-bound passes, and torch's intra-op thread pool makes each of them wait for idle cores, which on a
busy desktop (training running) costs far more than the work itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from numpy.lib.stride_tricks import as_strided

SCALINGS = ("channel", "layer")


@dataclass
class Mosaic:
    """`image` is float32 [rows*tile_h + (rows-1)*pad, cols*tile_w + (cols-1)*pad] in [0, 1]: tiles are
    separated by `pad` pixels of the pad value, with no outer border. Tile k sits at row k // cols,
    column k % cols. A vector layer ([N] or [C, 1, 1]) is one row of N 1x1 tiles with no padding."""

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
        col, in_x = divmod(x, self.tile_w + self.pad)
        row, in_y = divmod(y, self.tile_h + self.pad)
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


def as_array(act) -> np.ndarray:
    """Tensor or array -> float32 numpy array, without a copy when it already is one (CPU)."""
    if isinstance(act, torch.Tensor):
        act = act.detach()
        if act.device.type != "cpu" or act.dtype not in (torch.float32, torch.float64, torch.float16):
            act = act.to("cpu", torch.float32)
        act = act.numpy()
    return np.asarray(act, dtype=np.float32)


def channel_ranges(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (min, max) of a [C, ...] array (NaN propagates, which is how callers detect it)."""
    flat = a.reshape(a.shape[0], -1)
    return flat.min(axis=1), flat.max(axis=1)


def _finite(a: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """NaN / inf count as 0. Only pays for a cleaning pass when the ranges show there is something to clean."""
    if np.isfinite(lo).all() and np.isfinite(hi).all():
        return a, lo, hi
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    return (a, *channel_ranges(a))


def _offset_scale(lo: np.ndarray, hi: np.ndarray, scaling: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (offset, scale) that maps values to [0, 1]; a constant channel (or layer) maps to 0."""
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {', '.join(SCALINGS)} (got {scaling!r})")
    if scaling == "layer":
        lo = np.full_like(lo, lo.min())
        hi = np.full_like(hi, hi.max())
    lo, hi = lo.astype(np.float32), hi.astype(np.float32)
    span = hi - lo
    # Just under 1/span, so (max - min) * scale never rounds above 1.0 and no clipping pass is needed.
    scale = np.divide(np.float32(1.0 - 2.0 ** -22), span, out=np.zeros_like(span), where=span > 0)
    return lo, scale.astype(np.float32)


def grid_shape(channels: int, tile_h: int = 1, tile_w: int = 1, columns: int | None = None) -> tuple[int, int]:
    """(rows, cols): the given columns, else a grid whose pixel shape is close to square."""
    if columns is None:
        columns = max(1, math.ceil(math.sqrt(channels * tile_h / max(tile_w, 1))))
    cols = max(1, min(int(columns), channels))
    return math.ceil(channels / cols), cols


def _vector_mosaic(a: np.ndarray) -> Mosaic:
    n = a.size
    return Mosaic(vector_image(a), 1, n, 1, 1, 0, n)


def feature_mosaic(act, scaling: str = "channel", columns: int | None = None, pad: int = 1,
                   pad_value: float = 0.0, ranges: tuple[np.ndarray, np.ndarray] | None = None) -> Mosaic:
    """A [C, H, W] activation (numpy or tensor) -> Mosaic. [H, W] is one channel; [N] and [C, 1, 1] (after
    global pooling) are one row of units, scaled as a layer.

    scaling="channel": each channel stretched to its own min..max (shows every channel's pattern);
    "layer": one min..max for the whole layer (shows which channels are strong).
    `ranges`: per-channel (min, max) if the caller already has them (inspect_image computes them once)."""
    a = as_array(act)
    if a.ndim == 1 or (a.ndim == 3 and a.shape[1] * a.shape[2] == 1):
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)} (got {scaling!r})")
        return _vector_mosaic(a.reshape(-1))
    if a.ndim == 2:
        a = a[None]
    elif a.ndim > 3:
        a = a.reshape(-1, *a.shape[-2:])
    if a.size == 0:
        raise ValueError(f"cannot draw an empty activation of shape {a.shape}")
    c, h, w = a.shape
    lo, hi = ranges if ranges is not None and len(ranges[0]) == c else channel_ranges(a)
    a, lo, hi = _finite(a, lo, hi)
    offset, scale = _offset_scale(lo, hi, scaling)

    pad = max(0, int(pad))
    rows, cols = grid_shape(c, h, w, columns)
    height, width = rows * (h + pad) - pad, cols * (w + pad) - pad
    image = np.empty((height, width), dtype=np.float32)
    item = image.itemsize
    # Normalise on the contiguous [C, H*W] array (one offset and scale per row), then one copy into a
    # [rows, h, cols, w] view of the tiles inside the final image: element (r, y, k, x) of the view is
    # pixel (r*(h+pad) + y, k*(w+pad) + x). Only the gaps between tiles are filled with pad_value.
    normed = np.subtract(a.reshape(c, -1), offset[:, None])
    np.multiply(normed, scale[:, None], out=normed)
    normed = normed.reshape(c, h, w)
    tiles = as_strided(image, shape=(rows, h, cols, w),
                       strides=((h + pad) * width * item, width * item, (w + pad) * item, item))
    full, rest = divmod(c, cols)
    if full:
        tiles[:full] = normed[:full * cols].reshape(full, cols, h, w).transpose(0, 2, 1, 3)
    if rest:
        tiles[full, :, :rest] = normed[full * cols:].transpose(1, 0, 2)
        image[full * (h + pad):, rest * (w + pad) - pad:] = pad_value  # the empty end of the last row
    if pad and rows > 1:  # horizontal gaps
        gaps = as_strided(image[h:], shape=(rows - 1, pad, width),
                          strides=((h + pad) * width * item, width * item, item))
        gaps[:] = pad_value
    if pad and cols > 1:  # vertical gaps
        gaps = as_strided(image[:, w:], shape=(height, cols - 1, pad),
                          strides=(width * item, (w + pad) * item, item))
        gaps[:] = pad_value
    return Mosaic(image, rows, cols, h, w, pad, c)


def vector_image(act, height: int = 1) -> np.ndarray:
    """A linear layer's [N] output as a float32 strip [height, N] in [0, 1] (one min..max for the layer)."""
    a = np.nan_to_num(as_array(act).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    strip = (a - lo) * (1.0 / (hi - lo) if hi > lo else 0.0)
    return np.repeat(strip.astype(np.float32)[None, :], max(1, int(height)), axis=0)


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
