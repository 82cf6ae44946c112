"""The map as a PNG: one dot per image, coloured by class (matplotlib's Agg canvas, no pyplot, so it is safe
off the main thread and never opens a window)."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from core.io.atomic import atomic_write

SIZE_INCHES, DPI = 8.0, 110


def scatter_png(path: str | os.PathLike, points: np.ndarray, labels: np.ndarray, classes: list[str], *,
                val: np.ndarray | None = None, marked: np.ndarray | None = None, title: str = "") -> Path:
    """Training images as dots, validation images (`val` mask) as hollow rings, `marked` (e.g. unfamiliar
    or dropped images) as black crosses on top."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(SIZE_INCHES, SIZE_INCHES), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    val = np.zeros(len(points), bool) if val is None else np.asarray(val, bool)
    dot = max(1.0, min(12.0, 4000.0 / max(1, len(points))))
    for c, name in enumerate(classes):
        colour = cmap(c % cmap.N)
        train_rows, val_rows = (labels == c) & ~val, (labels == c) & val
        ax.scatter(points[train_rows, 0], points[train_rows, 1], s=dot, color=colour, alpha=0.6, linewidths=0,
                   label=name)
        ax.scatter(points[val_rows, 0], points[val_rows, 1], s=dot * 2, facecolors="none", edgecolors=[colour],
                   linewidths=0.6)
    if marked is not None and np.any(marked):
        ax.scatter(points[marked, 0], points[marked, 1], s=dot * 3, marker="x", color="black", linewidths=0.7,
                   label="unfamiliar")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    ax.legend(loc="best", fontsize=8, markerscale=max(1.0, 6.0 / dot), frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write(path, lambda fh: fh.write(buffer.getbuffer()))
