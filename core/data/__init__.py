"""Dataset specs -> (train, val) datasets and loaders.

`build_data(DataSpec(...))` is the one entry point: the built-in `shapes` set, an image folder, or a
torchvision standard set by name. Everything comes back as a DataBundle with the class names and the
Preprocess (size, channels, normalisation) that checkpoints store and inference reuses.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from core.data.datasets import ArrayDataset, FileDataset
from core.data.folder import DatasetError, scan_image_folder
from core.data.shapes import SHAPE_CLASSES, make_shapes
from core.data.transforms import Augmentation, Preprocess, eval_transform, train_transform

__all__ = ["DataSpec", "DataBundle", "DatasetError", "build_data", "make_loader", "BUILTIN_DATASETS"]

BUILTIN_DATASETS = ("shapes",)
STANDARD_DATASETS = ("mnist", "fashion_mnist", "cifar10")


@dataclass
class DataSpec:
    """What to train on. `name` is 'shapes', a standard set ('mnist', ...) or a folder path."""

    name: str = "shapes"
    image_size: int | None = None  # None: the dataset's natural size (shapes 64, folders 64, mnist 28)
    val_fraction: float = 0.2
    seed: int = 0
    train_count: int = 8000  # shapes only
    val_count: int = 1000  # shapes only
    augmentation: Augmentation = field(default_factory=Augmentation)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["augmentation"] = self.augmentation.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        d = dict(d)
        d["augmentation"] = Augmentation.from_dict(d.get("augmentation"))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def is_folder(self) -> bool:
        return self.name not in BUILTIN_DATASETS + STANDARD_DATASETS


@dataclass
class DataBundle:
    train: Dataset
    val: Dataset
    classes: list[str]
    preprocess: Preprocess
    spec: DataSpec
    description: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _channel_stats(images_nchw: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x = images_nchw.float().div_(255.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(round(float(v), 4) for v in mean), tuple(round(float(v), 4) for v in std)


def _build_shapes(spec: DataSpec) -> DataBundle:
    size = spec.image_size or 64
    images, labels = make_shapes(spec.train_count + spec.val_count, size, spec.seed)
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    labels_t = torch.from_numpy(labels)
    n = spec.train_count
    mean, std = _channel_stats(tensor[:n])
    pre = Preprocess(image_size=size, channels=3, mean=mean, std=std)
    aug = train_transform(pre, spec.augmentation) if spec.augmentation.any() else None
    return DataBundle(
        train=ArrayDataset(tensor[:n], labels_t[:n], pre, aug),
        val=ArrayDataset(tensor[n:], labels_t[n:], pre),
        classes=list(SHAPE_CLASSES), preprocess=pre, spec=spec,
        description=f"shapes: {n} train / {spec.val_count} val images, {size}x{size}, {len(SHAPE_CLASSES)} classes",
    )


# ImageNet statistics: a fair default for photos before the folder's own statistics are computed.
PHOTO_MEAN = (0.485, 0.456, 0.406)
PHOTO_STD = (0.229, 0.224, 0.225)


def _build_folder(spec: DataSpec) -> DataBundle:
    classes, train, val = scan_image_folder(Path(spec.name), spec.val_fraction, spec.seed)
    pre = Preprocess(image_size=spec.image_size or 64, channels=3, mean=PHOTO_MEAN, std=PHOTO_STD)
    return DataBundle(
        train=FileDataset(train, train_transform(pre, spec.augmentation)),
        val=FileDataset(val, eval_transform(pre)),
        classes=classes, preprocess=pre, spec=spec,
        description=f"{spec.name}: {len(train)} train / {len(val)} val images, {len(classes)} classes",
    )


def build_data(spec: DataSpec) -> DataBundle:
    if spec.name == "shapes":
        return _build_shapes(spec)
    if spec.name in STANDARD_DATASETS:
        from core.data.standard import build_standard

        return build_standard(spec)
    return _build_folder(spec)


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0,
                num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """A loader whose order depends only on (seed, epoch), so a resumed run sees the same batches."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      num_workers=num_workers, pin_memory=pin_memory,
                      persistent_workers=False, drop_last=False)
