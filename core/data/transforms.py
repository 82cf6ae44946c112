"""Transforms: the one eval (validation / inference) pipeline, and the training pipeline with augmentation.

Inference uses exactly the validation transform, rebuilt from a checkpoint's `preprocess` dict, so an image
dropped on the window is seen the way the model saw its validation data.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torchvision.transforms import v2 as T

from core.catalog import AUGMENTATIONS, CROP_SCALE_MIN


@dataclass
class Preprocess:
    """Everything needed to turn an RGB PIL image into a model input. Stored in every checkpoint."""

    image_size: int = 64
    channels: int = 3
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocess":
        return cls(image_size=int(d["image_size"]), channels=int(d.get("channels", 3)),
                   mean=tuple(float(v) for v in d["mean"]), std=tuple(float(v) for v in d["std"]))


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


def _channel_step(channels: int) -> list:
    # The loader always gives RGB; a 1-channel model gets grayscale.
    return [T.Grayscale(num_output_channels=1)] if channels == 1 else []


def eval_transform(pre: Preprocess) -> T.Compose:
    """PIL RGB image (any size) -> normalised float tensor [C, S, S]: resize the shorter side, centre crop."""
    return T.Compose([
        T.ToImage(),
        T.Resize(pre.image_size, antialias=True),
        T.CenterCrop(pre.image_size),
        *_channel_step(pre.channels),
        T.ToDtype(torch.float32, scale=True),
        T.Normalize(pre.mean, pre.std),
    ])


def train_transform(pre: Preprocess, aug: Augmentation) -> T.Compose:
    geometry: list = []
    if aug.random_resized_crop:
        geometry.append(T.RandomResizedCrop(pre.image_size, scale=(aug.crop_scale_min, 1.0), antialias=True))
    else:
        geometry += [T.Resize(pre.image_size, antialias=True), T.CenterCrop(pre.image_size)]
    if aug.horizontal_flip:
        geometry.append(T.RandomHorizontalFlip())
    if aug.rotation_degrees > 0:
        geometry.append(T.RandomRotation(aug.rotation_degrees))
    colour = [T.ColorJitter(aug.colour_jitter, aug.colour_jitter, aug.colour_jitter)] if aug.colour_jitter > 0 else []
    return T.Compose([
        T.ToImage(), *geometry, *colour, *_channel_step(pre.channels),
        T.ToDtype(torch.float32, scale=True), T.Normalize(pre.mean, pre.std),
    ])
