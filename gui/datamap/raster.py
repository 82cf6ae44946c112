"""The map's points drawn into one RGBA picture with numpy (a disc per point, a ring for a validation image, a
black ring around a selected one), shown as a single pyqtgraph ImageItem.

Why not a ScatterPlotItem: it paints every point again on every pan or zoom step, ~130 ms for 100,000 points
(and setting per-point brushes took seconds). A picture pans by being moved: one blit per step whatever the
number of points. The picture is drawn again (tens of ms at 100,000 points) only when the view settles, over a
region larger than the view, so panning uncovers points already drawn.
"""
from __future__ import annotations

import numpy as np

WHITE = np.uint32(0xFFFFFFFF)


def _offsets(radius: float, inner: float = -1.0) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets (dy, dx) whose centre lies within `radius` and beyond `inner` of the origin."""
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    d2 = dy ** 2 + dx ** 2
    keep = (d2 <= radius ** 2) & ((d2 > inner ** 2) if inner >= 0 else True)
    return dy[keep].ravel(), dx[keep].ravel()


def rgba32(rgb: np.ndarray) -> np.ndarray:
    """[N, 3] uint8 colours -> [N] uint32 pixels (opaque) in the byte order of an [H, W, 4] RGBA array."""
    rgb = np.asarray(rgb, dtype=np.uint32).reshape(-1, 3)
    pixels = np.zeros((len(rgb), 4), dtype=np.uint8)
    pixels[:, :3] = rgb
    pixels[:, 3] = 255
    return pixels.view(np.uint32).ravel()


def _stamp(canvas: np.ndarray, width: int, height: int, ix: np.ndarray, iy: np.ndarray, colours,
           offsets: tuple[np.ndarray, np.ndarray]) -> None:
    """Write each point's colour at its offsets. Points clear of the edges take one fancy assignment for all
    their pixels (the fast path); the few near an edge are clipped offset by offset."""
    dy, dx = offsets
    reach = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
    colours = np.broadcast_to(np.asarray(colours, np.uint32), ix.shape)
    clear = (ix >= reach) & (ix < width - reach) & (iy >= reach) & (iy < height - reach)
    base = iy[clear] * width + ix[clear]
    canvas[base[:, None] + (dy * width + dx)[None, :]] = colours[clear][:, None]  # broadcast, not repeated
    edge = ~clear
    if edge.any():
        ex, ey, ec = ix[edge], iy[edge], colours[edge]
        for oy, ox in zip(dy, dx):
            x, y = ex + ox, ey + oy
            inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            canvas[y[inside] * width + x[inside]] = ec[inside]


def draw_points(points: np.ndarray, colours: np.ndarray, rings: np.ndarray, rect: tuple[float, float, float, float],
                shape: tuple[int, int], radius: float, selected: np.ndarray | None = None) -> np.ndarray:
    """[H, W, 4] uint8 RGBA of `points` [N, 2] (data coordinates) inside rect (x0, y0, width, height); row 0 is
    the bottom (y0), as pyqtgraph's row-major ImageItem shows it. `colours` [N] uint32 from rgba32; `rings`
    [N] bool: drawn as a white disc in a ring of their colour; `selected`: rows ringed in black, on top."""
    height, width = shape
    x0, y0, w, h = rect
    canvas = np.zeros(height * width, dtype=np.uint32)
    if len(points) and w > 0 and h > 0:
        ix = np.floor((points[:, 0] - x0) * (width / w)).astype(np.int64)
        iy = np.floor((points[:, 1] - y0) * (height / h)).astype(np.int64)
        margin = int(np.ceil(radius)) + 3
        near = (ix > -margin) & (ix < width + margin) & (iy > -margin) & (iy < height + margin)
        ix, iy, colours, rings = ix[near], iy[near], colours[near], np.asarray(rings, bool)[near]
        fill = np.where(rings, WHITE, colours)
        _stamp(canvas, width, height, ix, iy, fill, _offsets(radius))
        if rings.any():
            _stamp(canvas, width, height, ix[rings], iy[rings], colours[rings], _offsets(radius, radius - 1.6))
        if selected is not None and len(selected):
            chosen = np.zeros(len(points), bool)
            chosen[np.asarray(selected, np.int64)] = True
            chosen = chosen[near]
            black = rgba32(np.zeros((1, 3)))[0]
            _stamp(canvas, width, height, ix[chosen], iy[chosen], black, _offsets(radius + 2.6, radius + 1.0))
    return canvas.view(np.uint8).reshape(height, width, 4)
