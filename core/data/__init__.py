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

from core import catalog
from core.data.datasets import ArrayDataset, FileDataset, match_channels
from core.data.folder import DatasetError, scan_folder_splits
from core.data.order import EpochOrderSampler, loader_generator
from core.data.shapes import SHAPE_CLASSES, make_shapes
from core.data.transforms import Augmentation, Preprocess, eval_transform, train_transform

__all__ = ["DataSpec", "DataBundle", "DatasetError", "build_data", "make_loader", "BUILTIN_DATASETS"]

BUILTIN_DATASETS = catalog.BUILTIN_DATASETS
STANDARD_DATASETS = catalog.STANDARD_DATASETS


@dataclass
class DataSpec:
    """What to train on. `name` is 'shapes', a standard set ('mnist', ...) or a folder path."""

    name: str = catalog.DEFAULT_DATASET
    image_size: int | None = catalog.IMAGE_SIZE.default  # None: the dataset's natural size (catalog.natural_image_size)
    val_fraction: float = catalog.VAL_FRACTION.default
    seed: int = catalog.SEED.default
    train_count: int = catalog.SHAPES_TRAIN_COUNT.default  # shapes only
    val_count: int = catalog.shapes_val_count(catalog.SHAPES_TRAIN_COUNT.default)  # shapes only
    augmentation: Augmentation = field(default_factory=Augmentation)
    # Normalisation: None = measured on the training data (folders, standard sets) / built-in (shapes);
    # a pretrained model sets its weights' own mean and std here (see core.models.torchvision_models).
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    channels: int | None = None  # None: the data's own (1 for MNIST); 3 repeats grayscale for RGB models
    cache_mb: float = catalog.CACHE_MB.default  # folders: decoded small images kept in memory up to this size (0: never)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["augmentation"] = self.augmentation.to_dict()
        for key in ("mean", "std"):
            d[key] = list(d[key]) if d[key] is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        d = dict(d)
        d["augmentation"] = Augmentation.from_dict(d.get("augmentation"))
        for key in ("mean", "std"):
            if d.get(key) is not None:
                d[key] = tuple(float(v) for v in d[key])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def is_folder(self) -> bool:
        return catalog.is_folder_dataset(self.name)


@dataclass
class DataBundle:
    train: Dataset
    val: Dataset
    classes: list[str]
    preprocess: Preprocess
    spec: DataSpec
    test: Dataset | None = None  # a folder's test/ split, kept aside (never trained or validated on)
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) left out as unreadable

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _channel_stats(images_nchw: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x = images_nchw.float().div_(255.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(round(float(v), 4) for v in mean), tuple(round(float(v), 4) for v in std)


def _build_shapes(spec: DataSpec) -> DataBundle:
    size = spec.image_size or catalog.natural_image_size(spec.name)
    images, labels = make_shapes(spec.train_count + spec.val_count, size, spec.seed)
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    labels_t = torch.from_numpy(labels)
    n = spec.train_count
    mean, std = _channel_stats(tensor[:n])
    if spec.mean is not None and spec.std is not None:  # a pretrained model's own normalisation
        mean, std = tuple(spec.mean), tuple(spec.std)
    pre = Preprocess(image_size=size, channels=3, mean=mean, std=std)
    aug = train_transform(pre, spec.augmentation) if spec.augmentation.any() else None
    return DataBundle(
        train=ArrayDataset(tensor[:n], labels_t[:n], pre, aug),
        val=ArrayDataset(tensor[n:], labels_t[n:], pre),
        classes=list(SHAPE_CLASSES), preprocess=pre, spec=spec,
    )


# ImageNet statistics: a fair default for photos before the folder's own statistics are computed.
PHOTO_MEAN = (0.485, 0.456, 0.406)
PHOTO_STD = (0.229, 0.224, 0.225)


def _build_folder(spec: DataSpec, progress=None, cancel=None) -> DataBundle:
    """An image folder -> bundle. Every file is decoded once up front (threads, reduced JPEG scale): the same
    pass fills the in-memory cache when it fits `spec.cache_mb` and finds unreadable files, which are left
    out (listed in `bundle.excluded`) so training only ever sees good images."""
    from core.data.cache import (CachedImageDataset, decode_files, estimate_cache_mb, train_cache_side)
    from core.data.stats import sample_indices, sampled_stats

    found = scan_folder_splits(Path(spec.name), spec.val_fraction, spec.seed)
    size = spec.image_size or catalog.FOLDER_IMAGE_SIZE
    channels = spec.channels or 3
    train_side, train_crop = train_cache_side(size, spec.augmentation)
    need_mb = (estimate_cache_mb(len(found.train), train_side, train_crop)
               + estimate_cache_mb(len(found.val) + len(found.test), size, True))
    cached = spec.cache_mb > 0 and need_mb <= spec.cache_mb
    groups = [(found.train, train_side, train_crop), (found.val, size, True), (found.test, size, True)]
    total = sum(len(g[0]) for g in groups)
    offset = [0]

    def sub_progress(done, _n):
        if progress is not None:
            progress(offset[0] + done, total)

    decoded, excluded = [], []
    for samples, side, crop in groups:
        images, errors = decode_files([p for p, _ in samples], side, crop, progress=sub_progress,
                                      cancel=cancel, keep=cached)
        offset[0] += len(samples)
        excluded += [(str(samples[i][0]), reason) for i, reason in sorted(errors.items())]
        good = [i for i in range(len(samples)) if i not in errors]
        decoded.append(([samples[i] for i in good], [images[i] for i in good]))
    (train, train_imgs), (val, val_imgs), (test, test_imgs) = decoded
    if not train:
        raise DatasetError(f"{spec.name}: none of the training images could be read "
                           f"({len(excluded)} unreadable files, for example {excluded[0][0]}: {excluded[0][1]})"
                           if excluded else f"{spec.name}: no training images")
    if spec.mean is not None and spec.std is not None:
        mean, std = tuple(spec.mean), tuple(spec.std)
    else:
        if not cached:  # measure a sample, decoded at the eval geometry
            idx = sample_indices(len(train), 500, spec.seed)
            train_imgs_for_stats, _ = decode_files([train[i][0] for i in idx], size, True)
            stats_source = [t for t in train_imgs_for_stats if t is not None]
        else:
            stats_source = train_imgs
        mean, std = sampled_stats([match_channels(t, channels) for t in stats_source], seed=spec.seed)
    pre = Preprocess(image_size=size, channels=channels, mean=mean, std=std)
    train_tf = train_transform(pre, spec.augmentation)

    def labels(samples):
        return torch.tensor([label for _, label in samples], dtype=torch.long)

    def eval_set(samples, images):
        if cached:
            stacked = torch.stack(images) if images else torch.zeros(0, 3, size, size, dtype=torch.uint8)
            return ArrayDataset(stacked, labels(samples), pre)
        return FileDataset(samples, eval_transform(pre), draft_size=size)

    if cached and not train_crop:
        train_ds = CachedImageDataset(train_imgs, labels(train).tolist(), train_tf, [p for p, _ in train])
    elif cached:
        train_ds = ArrayDataset(torch.stack(train_imgs), labels(train), pre,
                                train_tf if spec.augmentation.any() else None)
    else:
        train_ds = FileDataset(train, train_tf, draft_size=train_side)
    return DataBundle(
        train=train_ds, val=eval_set(val, val_imgs), classes=found.classes, preprocess=pre, spec=spec,
        test=eval_set(test, test_imgs) if found.test else None, excluded=excluded,
    )


def build_data(spec: DataSpec, progress=None, cancel=None) -> DataBundle:
    """Build the bundle for `spec`. `progress(done, total)` / `cancel()` let a GUI run it off-thread."""
    if spec.name in BUILTIN_DATASETS:
        return _build_shapes(spec)
    if spec.name in STANDARD_DATASETS:
        from core.data.standard import build_standard

        return build_standard(spec)
    return _build_folder(spec, progress, cancel)


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0,
                num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """A loader whose order depends only on (seed, epoch): shuffled, it is the trainer's order of that epoch
    (core.data.order, the one seeding scheme)."""
    sampler = EpochOrderSampler(len(dataset), seed, epoch) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, generator=loader_generator(seed, epoch),
                      num_workers=num_workers, pin_memory=pin_memory,
                      persistent_workers=False, drop_last=False)
