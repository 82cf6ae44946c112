"""Images a shapes model has never seen, and a shapes model trained without one shape: the out-of-distribution
sets of the familiarity tests and benchmarks/familiarity.py, all made in code (no downloads).

- the left-out shape: make_shapes' own images of one class, kept out of training (near: same colours, sizes,
  noise and backgrounds; only the shape is new);
- noise: uniform random pixels; digits: a random digit drawn in Pillow's built-in font, white on black like
  the digit datasets (far: another kind of image), or in the shapes' own colours and noise (near).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
from PIL import Image, ImageDraw, ImageFont

from core.data.datasets import ArrayDataset
from core.data.shapes import SHAPE_CLASSES, make_shapes
from core.data.transforms import Preprocess
from core.familiarity.sources import ImageSet
from core.models import ModelSpec, build_model


def noise_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def digit_images(count: int, size: int, seed: int = 0, style: str = "mnist") -> np.ndarray:
    """Random digits in Pillow's built-in font, rotated a little. style "mnist": white on black, like the
    digit datasets (another kind of image); "shapes": in random contrasting colours with the shapes' pixel
    noise, so only the drawn figure is new (as near to the shapes as a left-out shape is)."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, size, size, 3), dtype=np.uint8)
    for i in range(count):
        if style == "mnist":
            bg, fg, noise = np.zeros(3), np.full(3, 255.0), 0.0
        else:
            bg = rng.integers(0, 256, 3)
            fg, noise = (bg + 96 + rng.integers(0, 64, 3)) % 256, 12.0
        font = ImageFont.load_default(size=int(size * rng.uniform(0.5, 0.8)))
        glyph = Image.new("L", (size, size), 0)
        ImageDraw.Draw(glyph).text((size / 2, size / 2), str(int(rng.integers(0, 10))), fill=255, font=font,
                                   anchor="mm")
        glyph = glyph.rotate(float(rng.uniform(-30, 30)), resample=Image.BILINEAR)
        alpha = np.asarray(glyph, dtype=np.float32)[..., None] / 255.0
        image = (1 - alpha) * bg + alpha * fg + (rng.normal(0, noise, (size, size, 3)) if noise else 0.0)
        out[i] = np.clip(image, 0, 255).astype(np.uint8)
    return out


def shapes_without(left_out: str, count: int, size: int, seed: int):
    """(kept images, their labels renumbered over the kept classes, the left-out shape's images, kept class names)."""
    images, labels = make_shapes(count, size, seed)
    out = SHAPE_CLASSES.index(left_out)
    classes = [c for c in SHAPE_CLASSES if c != left_out]
    renumber = np.array([classes.index(c) if c != left_out else -1 for c in SHAPE_CLASSES])
    kept = labels != out
    return images[kept], renumber[labels[kept]], images[~kept], classes


def preprocess_for(images_nhwc: np.ndarray) -> Preprocess:
    """The normalisation the data layer would measure on these training images."""
    x = torch.from_numpy(images_nhwc).float().div_(255.0)
    mean = tuple(round(float(v), 4) for v in x.mean(dim=(0, 1, 2)))
    std = tuple(round(float(v), 4) for v in x.std(dim=(0, 1, 2)).clamp_min(1e-3))
    return Preprocess(image_size=images_nhwc.shape[1], channels=3, mean=mean, std=std)


def to_inputs(images_nhwc: np.ndarray, pre: Preprocess) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images_nhwc)).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - torch.tensor(pre.mean).view(1, 3, 1, 1)) / torch.tensor(pre.std).view(1, 3, 1, 1)


def image_set(split: str, images_nhwc: np.ndarray, labels, pre: Preprocess, name: str = "shapes") -> ImageSet:
    """Arrays -> an ImageSet, ids named like the evaluation's in-memory items ("shapes:val/00012")."""
    tensor = torch.from_numpy(np.ascontiguousarray(images_nhwc)).permute(0, 3, 1, 2).contiguous()
    labels = np.asarray(labels, dtype=np.int64)
    dataset = ArrayDataset(tensor, torch.from_numpy(labels), pre)
    return ImageSet(split, dataset, [f"{name}:{split}/{i:05d}" for i in range(len(labels))], labels)


def train_classifier(images_nhwc: np.ndarray, labels: np.ndarray, classes: list[str], *, options: dict,
                     epochs: int, lr: float = 3e-3, batch_size: int = 32, seed: int = 0):
    """A cnn trained by a plain PyTorch loop (Adam, one-cycle schedule) -> (model in eval mode, spec, pre)."""
    pre = preprocess_for(images_nhwc)
    spec = ModelSpec("cnn", len(classes), 3, pre.image_size, dict(options))
    torch.manual_seed(seed)
    model = build_model(spec, load_weights=False)
    x, y = to_inputs(images_nhwc, pre), torch.from_numpy(np.asarray(labels, dtype=np.int64))
    steps_per_epoch = math.ceil(len(y) / batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[rows]), y[rows]).backward()
            optimizer.step()
            schedule.step()
    return model.eval(), spec, pre
