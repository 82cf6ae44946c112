"""The Dossier's channel grid with synthesised pictures: one cell per unit holding its real top crops (the
Dossier's tile, core.dossier.render.channel_tile), its synthesised picture, or both side by side, with the
picture's sanity number written under it. One uint8 image (one ImageItem in the view), like the real grid.

The number is the picture's own check, coloured green when it passes and amber when it does not:
  r 0.98    a first layer: the picture's correlation with the unit's weights (passes at 0.9; see sanity.py)
  p 0.99    an output class: the model's probability for that class (passes when the model calls it so)
  x1.84     any other unit: its activation for the picture over that for its strongest real image (passes
            above 1: the picture excites the unit more than any real image searched)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.dossier.render import BACKGROUND, CROP_PX, GAP_PX, TILE_GAP_PX
from core.featurevis.pictures import UnitPicture
from core.featurevis.store import field_crop

MODES = ("real", "synthesised", "both")
CAPTION_PX = 13
PASS_CORRELATION = 0.9
PASS_COLOUR, WARN_COLOUR, LABEL_COLOUR = (130, 220, 130), (245, 180, 60), (190, 190, 190)


@dataclass(frozen=True)
class CompareGeometry:
    """Where each unit's cell lies: `tile` px squares (one, or real + picture in "both"), a caption strip under."""

    count: int
    mode: str
    tile: int
    cols: int
    rows: int

    @property
    def cell_width(self) -> int:
        return 2 * self.tile + GAP_PX * 2 if self.mode == "both" else self.tile

    @property
    def cell_height(self) -> int:
        return self.tile + CAPTION_PX

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.rows * (self.cell_height + TILE_GAP_PX) - TILE_GAP_PX,
                self.cols * (self.cell_width + TILE_GAP_PX) - TILE_GAP_PX, 3)

    def origin(self, unit_index: int) -> tuple[int, int]:
        """(y, x) of the cell of the unit_index-th unit."""
        row, col = divmod(unit_index, self.cols)
        return row * (self.cell_height + TILE_GAP_PX), col * (self.cell_width + TILE_GAP_PX)

    def picture_x(self) -> int:
        """The picture's x offset inside a cell."""
        return self.tile + 2 * GAP_PX if self.mode == "both" else 0

    def index_at(self, x: float, y: float) -> int | None:
        """The index of the unit whose cell holds grid pixel (x, y), None in a gap or outside."""
        if x < 0 or y < 0:
            return None
        col, row = int(x // (self.cell_width + TILE_GAP_PX)), int(y // (self.cell_height + TILE_GAP_PX))
        inside_x = x - col * (self.cell_width + TILE_GAP_PX) < self.cell_width
        inside_y = y - row * (self.cell_height + TILE_GAP_PX) < self.cell_height
        index = row * self.cols + col
        return index if col < self.cols and inside_x and inside_y and index < self.count else None


def geometry(count: int, k: int, mode: str, crop_px: int = CROP_PX) -> CompareGeometry:
    """The grid of `count` units whose real tiles hold `k` crops of `crop_px` (the real grid's tile size)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: use one of {', '.join(MODES)}")
    side = math.ceil(math.sqrt(max(k, 1)))
    tile = side * crop_px + (side - 1) * GAP_PX
    cols = max(1, math.ceil(math.sqrt(count * (1 if mode != "both" else 0.5))))
    return CompareGeometry(count, mode, tile, cols, max(1, math.ceil(count / cols)))


def picture_tile(picture: UnitPicture, size: int) -> np.ndarray:
    """The part of the picture its unit looks at (as the real crops are cut), RGB, `size` px square; small
    parts are enlarged pixel for pixel (a first layer's 3x3 field stays a crisp 3x3 pattern)."""
    crop = field_crop(picture)
    crop = np.repeat(crop, 3, axis=2) if crop.shape[2] == 1 else crop[:, :, :3]
    resample = Image.NEAREST if max(crop.shape[:2]) < size else Image.BILINEAR
    return np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), resample))


def sanity_caption(picture: UnitPicture) -> tuple[str, bool | None]:
    """(the number written under the picture, whether it passes its check; None: nothing to check)."""
    if picture.weight_correlation is not None:
        return f"r {picture.weight_correlation:.2f}", picture.weight_correlation >= PASS_CORRELATION
    if picture.class_probability is not None:
        return f"p {picture.class_probability:.2f}", picture.predicted_class == picture.label
    if picture.ratio is not None:
        return f"x{picture.ratio:.2f}", picture.ratio > 1.0
    return "-", None


def sanity_sentence(picture: UnitPicture) -> str:
    """The same numbers in words, for the detail view and tool tips."""
    parts = [f"activation {picture.activation:.3g}"]
    if picture.ratio is not None and picture.real_activation is not None:
        parts.append(f"{picture.ratio:.2f}x that of the strongest real image ({picture.real_activation:.3g})")
    elif picture.real_activation is None:
        parts.append("no real image to compare with")
    if picture.weight_correlation is not None:
        parts.append(f"matches the unit's weights: r = {picture.weight_correlation:.2f}")
    if picture.class_probability is not None:
        parts.append(f"the model calls it {picture.predicted_class} (p({picture.label}) = "
                     f"{picture.class_probability:.2f})")
    return "; ".join(parts)


_FONT: ImageFont.ImageFont | None = None


def _font() -> ImageFont.ImageFont:
    global _FONT
    if _FONT is None:
        _FONT = ImageFont.load_default(size=CAPTION_PX - 2)
    return _FONT


def comparison_grid(geo: CompareGeometry, labels: list[str], real: Callable[[int], np.ndarray | None] | None,
                    pictures: Mapping[int, UnitPicture] | None, units: list[int]) -> np.ndarray:
    """The grid image. units[i] is the unit of cell i, labels[i] its name (written under a real tile);
    real(i) its real tile (None: not cut yet); pictures: {unit: picture} (a missing one leaves its place
    empty, so the real side shows while the pictures are still being made)."""
    grid = np.full(geo.shape, BACKGROUND // 2, np.uint8)
    captions: list[tuple[int, int, str, tuple[int, int, int]]] = []
    for i, unit in enumerate(units):
        y, x = geo.origin(i)
        grid[y:y + geo.tile, x:x + geo.cell_width] = BACKGROUND
        if geo.mode in ("real", "both") and real is not None:
            tile = real(i)
            if tile is not None:
                grid[y:y + geo.tile, x:x + geo.tile] = tile
            captions.append((y + geo.tile, x + 1, labels[i], LABEL_COLOUR))
        picture = None if pictures is None else pictures.get(unit)
        if geo.mode in ("synthesised", "both") and picture is not None:
            px = x + geo.picture_x()
            grid[y:y + geo.tile, px:px + geo.tile] = picture_tile(picture, geo.tile)
            text, passed = sanity_caption(picture)
            colour = LABEL_COLOUR if passed is None else PASS_COLOUR if passed else WARN_COLOUR
            captions.append((y + geo.tile, px + 1, text if geo.mode == "both" else f"{labels[i]}  {text}", colour))
    image = Image.fromarray(grid)
    draw = ImageDraw.Draw(image)
    for y, x, text, colour in captions:
        draw.text((x, y), text, fill=colour, font=_font())
    return np.asarray(image)
