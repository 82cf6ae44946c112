"""Concept pictures the app draws itself, at the model's own size: stripes at several angles and widths,
dots, checkerboards, solid colours and noise. Each picture gets random colours (two that contrast), phase
and, where the name leaves them open, angle and size, so a concept is the pattern and not one colour.

Names: 'stripes' (any angle and width), 'stripes-45' (45 degrees), 'stripes-45-w3' (3 px wide), 'dots',
'checkerboard', 'solid', 'solid-red' (any of COLOURS), 'noise'. Drawn with numpy: vectorised, deterministic for
a seed, a few milliseconds for 50 pictures of 64 px.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np

from core.errors import LayerscopeError

DEFAULT_CONCEPTS = ("stripes", "dots", "checkerboard", "solid", "noise")
STRIPE_ANGLES = (0, 45, 90, 135)
COLOURS = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (40, 70, 230), "yellow": (230, 210, 40),
           "white": (240, 240, 240), "black": (15, 15, 15), "grey": (128, 128, 128)}
NAMES_HELP = (f"built-in concepts: stripes, stripes-ANGLE, stripes-ANGLE-wPX, dots, checkerboard, solid, "
              f"solid-COLOUR ({', '.join(COLOURS)}), noise")
_NAME = re.compile(r"(?P<kind>stripes|dots|checkerboard|solid|noise)"
                   r"(?:-(?P<angle>\d{1,3}))?(?:-w(?P<width>\d{1,3}))?(?:-(?P<colour>[a-z]+))?")


class ConceptNameError(LayerscopeError, ValueError):
    """A concept name the generator does not know; the message lists the ones it does."""


def is_generated(name: str) -> bool:
    return _parse(name) is not None


def kind_of(name: str) -> str | None:
    """'stripes-45-w3' -> 'stripes'; None for a name that is not a built-in concept."""
    parts = _parse(name)
    return parts["kind"] if parts else None


def _parse(name: str) -> dict | None:
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    parts = match.groupdict()
    if parts["kind"] != "stripes" and (parts["angle"] or parts["width"]):
        return None
    if parts["colour"] is not None and (parts["kind"] != "solid" or parts["colour"] not in COLOURS):
        return None
    return parts


def generate(name: str, count: int, size: int, seed: int = 0) -> np.ndarray:
    """uint8 [count, size, size, 3] pictures of concept `name`."""
    parts = _parse(name)
    if parts is None:
        raise ConceptNameError(f"no built-in concept {name!r}; {NAMES_HELP}")
    rng = np.random.default_rng([seed, int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")])
    draw = {"stripes": _stripes, "dots": _dots, "checkerboard": _checkerboard, "solid": _solid, "noise": _noise}
    return np.stack([draw[parts["kind"]](rng, size, parts) for _ in range(count)])


def _two_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    while True:
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if np.abs(a - b).sum() > 240:
            return a.astype(np.uint8), b.astype(np.uint8)


def _paint(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    on, off = _two_colours(rng)
    return np.where(mask[..., None], on, off).astype(np.uint8)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return yy, xx


def _stripes(rng, size: int, parts: dict) -> np.ndarray:
    angle = float(parts["angle"]) if parts["angle"] else float(rng.choice(STRIPE_ANGLES)) + rng.uniform(-10, 10)
    width = float(parts["width"]) if parts["width"] else rng.uniform(max(1.0, size / 24), max(2.0, size / 6))
    yy, xx = _grid(size)
    a = np.deg2rad(angle)
    t = xx * np.cos(a) + yy * np.sin(a) + rng.uniform(0, 2 * width)
    return _paint(np.floor(t / width) % 2 == 1, rng)


def _dots(rng, size: int, _parts) -> np.ndarray:
    radius = rng.uniform(max(1.0, size / 20), max(1.5, size / 8))
    spacing = radius * rng.uniform(2.5, 4.0)
    yy, xx = _grid(size)
    oy, ox = rng.uniform(0, spacing, 2)
    dy = (yy + oy) % spacing - spacing / 2
    dx = (xx + ox) % spacing - spacing / 2
    return _paint(dy * dy + dx * dx <= radius * radius, rng)


def _checkerboard(rng, size: int, _parts) -> np.ndarray:
    cell = rng.uniform(max(1.0, size / 16), max(2.0, size / 4))
    yy, xx = _grid(size)
    oy, ox = rng.uniform(0, 2 * cell, 2)
    return _paint((np.floor((yy + oy) / cell) + np.floor((xx + ox) / cell)) % 2 == 1, rng)


def _solid(rng, size: int, parts: dict) -> np.ndarray:
    colour = np.array(COLOURS[parts["colour"]]) if parts["colour"] else rng.integers(0, 256, 3)
    jitter = rng.normal(0, 6, (size, size, 3))  # a little sensor-like noise: not one exact RGB value
    return np.clip(colour + jitter, 0, 255).astype(np.uint8)


def _noise(rng, size: int, _parts) -> np.ndarray:
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
