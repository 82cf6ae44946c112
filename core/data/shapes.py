"""The built-in `shapes` dataset: procedurally drawn RGB images of simple shapes, made in code.

Deterministic for a seed, generated in about a second, no download. It is the default dataset, so the app
works on a fresh machine with no data at all, and it is easy to see what a network learns from it.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES = ("circle", "square", "triangle", "star", "cross")


def _regular_polygon(cx: float, cy: float, radius: float, sides: int, angle: float) -> list[tuple[float, float]]:
    return [
        (cx + radius * math.cos(angle + 2 * math.pi * k / sides), cy + radius * math.sin(angle + 2 * math.pi * k / sides))
        for k in range(sides)
    ]


def _star(cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.42
        a = angle + math.pi * k / 5
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def _cross(cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    w = radius * 0.34
    outline = [(-w, -radius), (w, -radius), (w, -w), (radius, -w), (radius, w), (w, w),
               (w, radius), (-w, radius), (-w, w), (-radius, w), (-radius, -w), (-w, -w)]
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in outline]


def _draw_shape(draw: ImageDraw.ImageDraw, label: int, cx: float, cy: float, radius: float, angle: float, colour) -> None:
    name = SHAPE_CLASSES[label]
    if name == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    elif name == "square":
        draw.polygon(_regular_polygon(cx, cy, radius * 1.1, 4, angle), fill=colour)
    elif name == "triangle":
        draw.polygon(_regular_polygon(cx, cy, radius * 1.15, 3, angle), fill=colour)
    elif name == "star":
        draw.polygon(_star(cx, cy, radius * 1.2, angle), fill=colour)
    else:
        draw.polygon(_cross(cx, cy, radius * 1.1, angle), fill=colour)


def _contrasting_colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    while True:
        bg = rng.integers(0, 256, 3)
        fg = rng.integers(0, 256, 3)
        if np.abs(bg.astype(int) - fg.astype(int)).sum() > 180:
            return tuple(int(v) for v in bg), tuple(int(v) for v in fg)


def make_shapes(count: int, image_size: int = 64, seed: int = 0, noise: float = 12.0,
                with_masks: bool = False):
    """Draw `count` images. Returns (images uint8 [N, H, W, 3], labels int64 [N]) and, with `with_masks`,
    a bool [N, H, W] mask of the shape's pixels (used to check that saliency looks at the shape)."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    masks = np.empty((count, image_size, image_size), dtype=bool) if with_masks else None
    labels = np.arange(count, dtype=np.int64) % len(SHAPE_CLASSES)
    rng.shuffle(labels)
    for i in range(count):
        bg, fg = _contrasting_colours(rng)
        radius = rng.uniform(0.16, 0.32) * image_size
        cx, cy = rng.uniform(radius + 1, image_size - radius - 1, 2)
        angle = rng.uniform(0, 2 * math.pi)
        img = Image.new("RGB", (image_size, image_size), bg)
        _draw_shape(ImageDraw.Draw(img), int(labels[i]), cx, cy, radius, angle, fg)
        images[i] = np.asarray(img)
        if masks is not None:
            mask = Image.new("L", (image_size, image_size), 0)
            _draw_shape(ImageDraw.Draw(mask), int(labels[i]), cx, cy, radius, angle, 255)
            masks[i] = np.asarray(mask) > 0
    if noise > 0:
        jitter = rng.normal(0.0, noise, images.shape).astype(np.float32)
        images = np.clip(images.astype(np.float32) + jitter, 0, 255).astype(np.uint8)
    return (images, labels, masks) if with_masks else (images, labels)
