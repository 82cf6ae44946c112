"""Receptive field and stride of every hooked layer, measured empirically from the input gradient.

Why empirical: propagating kernel / stride / padding through the layers is exact only for a chain; a ResNet's
skip and downsample branches break it. Here, for each layer, the gradient of the centre unit's value (summed
over channels) with respect to a random input batch is non-zero exactly on the pixels that unit sees. The
union over a few random inputs covers the max-pool windows (a max pool passes gradient to one pixel only).
Stride is input size / feature-map size. One forward and one backward per layer, done once per model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from core.models.hooks import Hooks, evaluating, model_device


@dataclass
class ReceptiveField:
    height: int  # pixels of the input one unit sees
    width: int
    stride_y: float  # input pixels per feature-map step
    stride_x: float
    origin_y: float  # input-pixel centre of feature-map unit (0, 0)
    origin_x: float

    def box(self, y: int, x: int, image_h: int, image_w: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of unit (y, x)'s field, clipped to the image; at least one stride wide."""
        cy, cx = self.origin_y + y * self.stride_y, self.origin_x + x * self.stride_x
        h, w = max(self.height, self.stride_y, 1), max(self.width, self.stride_x, 1)
        top, left = int(round(cy - h / 2)), int(round(cx - w / 2))
        top, left = max(0, top), max(0, left)
        return top, left, min(image_h, top + int(round(h))), min(image_w, left + int(round(w)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ReceptiveField":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def measure_receptive_fields(model: nn.Module, modules: dict[str, nn.Module], input_shape: tuple[int, int, int],
                             samples: int = 4, seed: int = 0) -> dict[str, ReceptiveField]:
    """{layer: ReceptiveField} for the 4-D-output layers among `modules`; others are left out."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, *input_shape, generator=generator).to(model_device(model)).requires_grad_(True)
    outputs: dict[str, torch.Tensor] = {}
    fields: dict[str, ReceptiveField] = {}
    with evaluating(model), torch.enable_grad():
        with Hooks(modules, lambda name, _inputs, output: outputs.setdefault(name, output)):
            model(x)
        for name, out in outputs.items():
            if isinstance(out, torch.Tensor) and out.dim() == 4 and out.requires_grad:
                fields[name] = _field_of_centre_unit(out, x)
    return fields


def _field_of_centre_unit(out: torch.Tensor, x: torch.Tensor) -> ReceptiveField:
    """The input pixels the centre unit of feature map `out` depends on (its gradient is non-zero there)."""
    _, _, in_h, in_w = x.shape
    fh, fw = out.shape[2], out.shape[3]
    cy, cx = fh // 2, fw // 2
    grad, = torch.autograd.grad(out[:, :, cy, cx].sum(), x, retain_graph=True)
    seen = grad.abs().sum(dim=(0, 1)) > 0
    rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
    sy, sx = in_h / fh, in_w / fw
    if len(rows) == 0 or len(cols) == 0:  # no gradient reached the input: assume one stride
        return ReceptiveField(int(round(sy)), int(round(sx)), sy, sx, sy / 2, sx / 2)
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    left, right = int(cols[0]), int(cols[-1]) + 1
    return ReceptiveField(bottom - top, right - left, sy, sx, (top + bottom) / 2 - cy * sy, (left + right) / 2 - cx * sx)
