"""What a checkpoint records about its inputs (Preprocess: size, channels, normalisation, the decode rule) and
the training augmentation's options (Augmentation). Plain settings: core.data.pipeline turns them into tensors.

Every model input is made by core.data.pipeline from a Preprocess (rebuilt from a checkpoint's `preprocess`
dict for inference), so an image dropped on the window is seen the way the model saw its validation data.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from core.catalog import AUGMENTATIONS, CROP_SCALE_MIN


# How a file is decoded (core.data.pipeline.decode): "reduced" lets a JPEG decode at 1/2, 1/4 or 1/8 scale while
# both sides stay >= the model's side (libjpeg's DCT scaling); "full" decodes every pixel.
DECODE_REDUCED, DECODE_FULL = "reduced", "full"
DECODE_RULES = (DECODE_REDUCED, DECODE_FULL)
# Checkpoints written before the rule was recorded: their training and validation images were decoded at reduced
# scale, so that rule reproduces the accuracy they report.
LEGACY_DECODE = DECODE_REDUCED


@dataclass
class Preprocess:
    """Everything needed to turn an image file into a model input. Stored in every checkpoint."""

    image_size: int = 64
    channels: int = 3
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)
    decode: str = DECODE_REDUCED

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocess":
        return cls(image_size=int(d["image_size"]), channels=int(d.get("channels", 3)),
                   mean=tuple(float(v) for v in d["mean"]), std=tuple(float(v) for v in d["std"]),
                   decode=str(d.get("decode", LEGACY_DECODE)))


@dataclass
class Augmentation:
    """Training-time augmentation options (all off by default; shapes needs none)."""

    random_resized_crop: bool = AUGMENTATIONS["crop"].setting.default
    crop_scale_min: float = CROP_SCALE_MIN.default
    horizontal_flip: bool = AUGMENTATIONS["flip"].setting.default
    rotation_degrees: float = AUGMENTATIONS["rotate"].setting.default
    colour_jitter: float = AUGMENTATIONS["jitter"].setting.default

    def any(self) -> bool:
        return (self.random_resized_crop or self.horizontal_flip or self.rotation_degrees > 0
                or self.colour_jitter > 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "Augmentation":
        return cls(**{k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__})
