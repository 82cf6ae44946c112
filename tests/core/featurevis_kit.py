"""Tiny learnable image sets and models for the feature-visualization and concept tests.

The built-in shapes come in random colours and need thousands of steps; here each class is one shape in
one colour family, which a tiny CNN learns in a few seconds. `stripes_on` puts stripes on every image of one
class (the TCAV test's planted concept)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from core.data.datasets import ArrayDataset
from core.data.transforms import Preprocess
from core.models import ModelSpec, build_model

CLASSES = ("circle", "square", "triangle")
COLOURS = {"circle": (220, 40, 40), "square": (40, 200, 40), "triangle": (40, 60, 230)}


def stripes(size: int, width: int, angle_deg: float, phase: float) -> np.ndarray:
    """bool [size, size]: stripes `width` px wide at `angle_deg`."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    a = np.deg2rad(angle_deg)
    t = xx * np.cos(a) + yy * np.sin(a) + phase
    return (np.floor(t / width) % 2).astype(bool)


def draw_images(per_class: int, size: int = 32, seed: int = 0, stripes_on: str | None = None,
                classes=CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, size, size, 3] and labels; one shape per class in its colour family on a dark background."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(classes):
        for _ in range(per_class):
            img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 60, 3)))
            draw = ImageDraw.Draw(img)
            r = rng.uniform(size * 0.2, size * 0.32)
            cx, cy = rng.uniform(r, size - r, 2)
            fill = tuple(int(np.clip(v + rng.integers(-30, 30), 0, 255)) for v in COLOURS[name])
            _draw(draw, CLASSES.index(name), cx, cy, r, fill)
            pixels = np.asarray(img).copy()
            if name == stripes_on:
                mask = stripes(size, int(rng.integers(2, 4)), float(rng.uniform(0, 180)), float(rng.uniform(0, 8)))
                pixels[mask] = 255 - pixels[mask]
            images.append(pixels)
            labels.append(label)
    order = rng.permutation(len(labels))
    return np.stack(images)[order], np.asarray(labels, dtype=np.int64)[order]


ZOO = ("zebra", "horse", "apple")


def draw_zoo(per_class: int, size: int = 32, seed: int = 0, apple_dots: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The concept test's planted set: 'zebra' and 'horse' are the same random shapes in random colours, but
    every zebra carries stripes (so stripes are all that tells them apart); 'apple' is red circles, never
    striped."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(ZOO):
        for _ in range(per_class):
            img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 60, 3)))
            r = rng.uniform(size * 0.25, size * 0.35)
            cx, cy = rng.uniform(r, size - r, 2)
            if name == "apple":
                fill, kind = tuple(int(np.clip(v + rng.integers(-30, 30), 0, 255)) for v in COLOURS["circle"]), 0
            else:
                fill, kind = tuple(int(v) for v in rng.integers(60, 256, 3)), int(rng.integers(0, 3))
            _draw(ImageDraw.Draw(img), kind, cx, cy, r, fill)
            pixels = np.asarray(img).copy()
            if name == "apple" and apple_dots:
                yy, xx = np.mgrid[0:size, 0:size]
                sp = rng.uniform(4, 7)
                mask = ((yy + rng.uniform(0, sp)) % sp - sp / 2) ** 2 + ((xx + rng.uniform(0, sp)) % sp - sp / 2) ** 2 < (sp / 4) ** 2
                pixels[mask] = 255 - pixels[mask]
            if name == "zebra":
                mask = stripes(size, int(rng.integers(2, 4)), float(rng.uniform(0, 180)), float(rng.uniform(0, 8)))
                pixels[mask] = 255 - pixels[mask]
            images.append(pixels)
            labels.append(label)
    order = rng.permutation(len(labels))
    return np.stack(images)[order], np.asarray(labels, dtype=np.int64)[order]


def _draw(draw: ImageDraw.ImageDraw, kind: int, cx: float, cy: float, r: float, fill) -> None:
    if kind == 0:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif kind == 1:
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)


def dataset(images: np.ndarray, labels: np.ndarray, pre: Preprocess) -> ArrayDataset:
    return ArrayDataset(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels), pre)


def preprocess_for(images: np.ndarray, channels: int = 3) -> Preprocess:
    x = images.astype(np.float32) / 255.0
    if channels == 1:
        x = (x @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    mean = tuple(float(v) for v in x.mean(axis=(0, 1, 2)))
    std = tuple(max(float(v), 1e-3) for v in x.std(axis=(0, 1, 2)))
    return Preprocess(image_size=images.shape[1], channels=channels, mean=mean, std=std)


def train(model_name: str, data: ArrayDataset, num_classes: int, size: int, channels: int = 3, epochs: int = 3,
          options: dict | None = None, seed: int = 0, lr: float = 3e-3, weight_decay: float = 0.0):
    """A model trained on `data` for a few epochs (eval mode on return) and its ModelSpec."""
    torch.manual_seed(seed)
    spec = ModelSpec(model_name, num_classes, channels, size, dict(options or {}))
    model = build_model(spec)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            optimiser.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimiser.step()
    return model.eval(), spec


def accuracy(model, data) -> float:
    x = torch.stack([data[i][0] for i in range(len(data))])
    y = torch.tensor([data[i][1] for i in range(len(data))])
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())
