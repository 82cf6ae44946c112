"""Confusion-matrix and reliability-diagram pictures drawn with PIL (matplotlib is not a dependency)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CELL = 36
MARGIN = 110


def draw_confusion(matrix: np.ndarray, classes: list[str]) -> Image.Image:
    """A heatmap normalised per row (true class), with the counts written in the cells."""
    k = len(classes)
    cell = max(14, min(CELL, 900 // max(k, 1)))
    size = (MARGIN + cell * k + 10, MARGIN + cell * k + 10)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
    share = matrix / rows
    for i in range(k):
        for j in range(k):
            shade = int(255 - 200 * share[i, j])
            x, y = MARGIN + j * cell, MARGIN + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(shade, shade, 255) if i == j else (255, shade, shade))
            if cell >= 24:
                draw.text((x + 3, y + cell // 3), str(int(matrix[i, j])), fill="black")
    for i, name in enumerate(classes):
        draw.text((4, MARGIN + i * cell + cell // 3), name[:16], fill="black")
        draw.text((MARGIN + i * cell + 2, MARGIN - 14 - 12 * (i % 2)), name[:6], fill="black")
    draw.text((4, 4), "rows: true class, columns: predicted", fill="black")
    return image


def draw_reliability(bins: list[dict], side: int = 320) -> Image.Image:
    """Accuracy per confidence bin against the diagonal of perfect calibration."""
    pad = 40
    image = Image.new("RGB", (side + 2 * pad, side + 2 * pad), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([pad, pad, pad + side, pad + side], outline="black")
    draw.line([pad, pad + side, pad + side, pad], fill=(160, 160, 160))
    for b in bins:
        if not b["count"]:
            continue
        x0 = pad + b["lower"] * side
        x1 = pad + b["upper"] * side - 1
        top = pad + side - b["accuracy"] * side
        draw.rectangle([x0, top, x1, pad + side], fill=(90, 130, 220), outline="white")
    draw.text((pad, 8), "reliability: accuracy per confidence bin", fill="black")
    draw.text((pad, pad + side + 8), "confidence 0 .. 1", fill="black")
    return image
