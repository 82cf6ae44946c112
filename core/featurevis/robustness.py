"""Random jitter, scale and small rotations applied to the picture at every step (Lucid's "transformation
robustness"): a pattern that excites the unit only at one exact pixel offset or size is noise, not a feature.

Resolution-aware: Lucid's amounts are in pixels of a 224 px network (pad 12, a random crop 8 px smaller,
then one 4 px smaller: shifts of up to 4 + 2 = 6 px either way). Here pixel amounts are scaled to the
network's own input size (a 32 px network is shifted by 1 px, not 6, which would move its 3x3 filters'
patterns by twice their width); scale and angle are relative and kept as they are.
One differentiable affine warp (torch's affine_grid + grid_sample) does all three at once, per picture, with
zero padding in the normalised space, i.e. the data's mean colour (Lucid pads with grey).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

REFERENCE_SIZE = 224  # the input size Lucid's pixel amounts were chosen for


@dataclass(frozen=True)
class Robustness:
    jitter_px: int = 6  # largest shift either way (Lucid's two jitters, 8 and 4 px crops, at 224 px)
    scales: tuple[float, ...] = tuple(1 + (i - 5) / 50 for i in range(11))  # 0.9 .. 1.1
    max_degrees: float = 10.0
    still_share: float = 5 / 26  # Lucid draws the angle from range(-10, 11) + 5 * [0]

    @classmethod
    def for_size(cls, size: int) -> "Robustness":
        """Lucid's settings with pixel amounts scaled from 224 px to `size` (at least 1 px of jitter)."""
        return cls(jitter_px=max(1, round(6 * size / REFERENCE_SIZE)))

    @classmethod
    def none(cls) -> "Robustness":
        return cls(jitter_px=0, scales=(1.0,), max_degrees=0.0, still_share=1.0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scales"] = [round(s, 6) for s in self.scales]
        return d


def random_affine(batch: int, settings: Robustness, size: int, generators: list[torch.Generator]) -> torch.Tensor:
    """[batch, 2, 3] affine matrices (affine_grid's convention), drawn from each picture's own generator."""
    thetas = []
    for g in generators[:batch]:
        r = torch.rand(3, generator=g).tolist()
        scale = settings.scales[min(int(r[0] * len(settings.scales)), len(settings.scales) - 1)]
        degrees = 0.0 if r[1] < settings.still_share else (2 * r[2] - 1) * settings.max_degrees
        shift = torch.randint(-settings.jitter_px, settings.jitter_px + 1, (2,), generator=g).tolist() \
            if settings.jitter_px > 0 else [0, 0]
        a = math.radians(degrees)
        # the grid maps output to input coordinates in [-1, 1]: whole-pixel shifts are 2 / size apart
        c, s = math.cos(a) / scale, math.sin(a) / scale
        thetas.append([[c, -s, 2 * shift[0] / size], [s, c, 2 * shift[1] / size]])
    return torch.tensor(thetas, dtype=torch.float32)


def apply(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Warp [B, C, H, W] by per-picture affine `theta`; outside the picture is 0 (the mean colour)."""
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
