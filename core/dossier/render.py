"""Turn a TopKResult into pictures: each channel's top images cropped to the receptive field of their
strongest unit, one PNG grid per layer, and a JSON file (layer, channel, image file, location, activation)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
from PIL import Image

from core.dossier.topk import LayerTopK, TopKResult
from core.progress import NO_PROGRESS, Progress

CROP_PX = 32  # each crop is drawn this size in the grid
GAP_PX, TILE_GAP_PX = 1, 6
BACKGROUND = 40  # grey level between and behind the crops


def display_image(dataset, index: int, mean=None, std=None) -> np.ndarray:
    """uint8 [H, W, 3] of dataset item `index` as the model saw it (before normalisation)."""
    raw = getattr(dataset, "raw_image", None)
    if raw is not None:
        x = raw(index).numpy()
    else:
        t = dataset[index][0].float()
        if mean is not None and std is not None:
            c = t.shape[0]
            t = t * np.asarray(std[:c], dtype=np.float32).reshape(c, 1, 1) + np.asarray(mean[:c], dtype=np.float32).reshape(c, 1, 1)
        x = (np.clip(t.numpy(), 0, 1) * 255).round().astype(np.uint8)
    x = np.transpose(x, (1, 2, 0))
    return np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x[:, :, :3]


def crop_box(layer: LayerTopK, channel: int, rank: int, image_h: int, image_w: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the input the strongest unit sees; the whole image for linear layers."""
    if layer.kind != "conv" or layer.receptive_field is None:
        return 0, 0, image_h, image_w
    y, x = (int(v) for v in layer.locations[channel, rank])
    return layer.receptive_field.box(y, x, image_h, image_w)


def channel_crops(layer: LayerTopK, channel: int, image_of) -> list[np.ndarray]:
    """The crops of one channel's top images, best first (empty slots left out). image_of(index) -> HWC."""
    crops = []
    for rank, index in enumerate(layer.indices[channel]):
        if index < 0 or not np.isfinite(layer.values[channel, rank]):
            continue
        img = image_of(int(index))
        top, left, bottom, right = crop_box(layer, channel, rank, img.shape[0], img.shape[1])
        crops.append(img[top:bottom, left:right])
    return crops


def _resized(crop: np.ndarray, size: int) -> np.ndarray:
    resample = Image.NEAREST if max(crop.shape[:2]) < size else Image.BILINEAR
    return np.asarray(Image.fromarray(crop).resize((size, size), resample))


def grid_geometry(channels: int, k: int, crop_px: int = CROP_PX) -> tuple[int, int, int, int]:
    """(side: crops per tile row, tile: tile size in px, cols, rows) of a layer grid."""
    side = math.ceil(math.sqrt(k))
    tile = side * crop_px + (side - 1) * GAP_PX
    cols = math.ceil(math.sqrt(channels))
    return side, tile, cols, math.ceil(channels / cols)


def channel_at(x: float, y: float, channels: int, k: int, crop_px: int = CROP_PX) -> int | None:
    """The channel whose tile holds grid pixel (x, y), or None (a gap, outside)."""
    _, tile, cols, _ = grid_geometry(channels, k, crop_px)
    col, row = int(x // (tile + TILE_GAP_PX)), int(y // (tile + TILE_GAP_PX))
    if x < 0 or y < 0 or col >= cols or x - col * (tile + TILE_GAP_PX) >= tile or y - row * (tile + TILE_GAP_PX) >= tile:
        return None
    c = row * cols + col
    return c if c < channels else None


def channel_tile(layer: LayerTopK, channel: int, image_of, crop_px: int = CROP_PX) -> np.ndarray:
    """One channel's tile: its top crops in a square, best first, on the grid's background."""
    side, tile, _, _ = grid_geometry(layer.channels, layer.values.shape[1], crop_px)
    out = np.full((tile, tile, 3), BACKGROUND, np.uint8)
    for r, crop in enumerate(channel_crops(layer, channel, image_of)):
        y, x = (r // side) * (crop_px + GAP_PX), (r % side) * (crop_px + GAP_PX)
        out[y:y + crop_px, x:x + crop_px] = _resized(crop, crop_px)
    return out


def layer_grid(layer: LayerTopK, image_of, crop_px: int = CROP_PX, on_tile=None) -> np.ndarray:
    """One uint8 image: a tile per channel (its top crops in a square), tiles in rows, channel order.
    on_tile(channel, grid) after each tile (a view can show the first tiles while the rest are cut)."""
    _, tile, cols, rows = grid_geometry(layer.channels, layer.values.shape[1], crop_px)
    grid = np.full((rows * tile + (rows - 1) * TILE_GAP_PX, cols * tile + (cols - 1) * TILE_GAP_PX, 3), BACKGROUND,
                   np.uint8)
    for c in range(layer.channels):
        ty, tx = (c // cols) * (tile + TILE_GAP_PX), (c % cols) * (tile + TILE_GAP_PX)
        grid[ty:ty + tile, tx:tx + tile] = channel_tile(layer, c, image_of, crop_px)
        if on_tile is not None:
            on_tile(c, grid)
    return grid


def layer_entries(layer: LayerTopK, files: list[str], labels: list[int], classes: list[str]) -> list[dict]:
    entries = []
    for c in range(layer.channels):
        for rank, index in enumerate(layer.indices[c]):
            value = float(layer.values[c, rank])
            if index < 0 or not math.isfinite(value):
                continue
            label = labels[index] if index < len(labels) else None
            entries.append({"layer": layer.name, "channel": c, "rank": rank, "index": int(index),
                            "image": files[index] if index < len(files) else str(index),
                            "label": classes[label] if label is not None and label < len(classes) else label,
                            "location": [int(v) for v in layer.locations[c, rank]], "activation": value})
    return entries


def safe_name(layer: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", layer) or "layer"


def write_dossier(result: TopKResult, image_of, files: list[str], labels: list[int], out: str | Path,
                  progress: Progress = NO_PROGRESS) -> list[Path]:
    """Per layer: LAYER.png (the channel grid) and LAYER.json (one entry per channel and rank)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, layer in enumerate(result.layers.values()):
        stem = f"{i:02d}_{safe_name(layer.name)}"
        Image.fromarray(layer_grid(layer, image_of)).save(out / f"{stem}.png")
        info = {"layer": layer.name, "kind": layer.kind, "fmap_size": list(layer.fmap_size), "k": result.k,
                "ranked_by": layer.ranked_by,
                "receptive_field": layer.receptive_field.to_dict() if layer.receptive_field else None,
                "class_mean": layer.class_mean.tolist() if layer.class_mean is not None else None,
                "classes": result.classes, "top": layer_entries(layer, files, labels, result.classes)}
        (out / f"{stem}.json").write_text(json.dumps(info, indent=1))
        written += [out / f"{stem}.png", out / f"{stem}.json"]
        progress.update(i + 1, len(result.layers), f"layer {i + 1}/{len(result.layers)}")
    return written
