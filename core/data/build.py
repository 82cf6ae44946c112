"""DataSpec -> DataBundle: `build_data` is the one entry point, for the built-in `shapes` set, an image folder
(every file decoded once, unreadable ones left out and listed) or a torchvision standard set by name."""
from __future__ import annotations

from pathlib import Path

import torch

from core import catalog
from core.data.bundle import DataBundle
from core.data.datasets import ArrayDataset, FileDataset
from core.data.folder import DatasetError, scan_folder_splits
from core.data.pipeline import match_channels, train_transform
from core.data.shapes import SHAPE_CLASSES, make_shapes
from core.data.spec import DataSpec
from core.data.transforms import DECODE_REDUCED, Preprocess
from core.progress import NO_PROGRESS, Offset, Progress


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


def _build_folder(spec: DataSpec, progress: Progress = NO_PROGRESS) -> DataBundle:
    """An image folder -> bundle. Every file is decoded once up front (threads, the pipeline's decode rule): the
    same pass fills the in-memory cache when it fits `spec.cache_mb` and finds unreadable files, which are left
    out (listed in `bundle.excluded`) so training only ever sees good images."""
    from core.data.cache import (CachedImageDataset, decode_files, estimate_cache_mb, train_cache_side)
    from core.data.stats import sample_indices, sampled_stats

    found = scan_folder_splits(Path(spec.name), spec.val_fraction, spec.seed)
    rule = DECODE_REDUCED  # recorded in the Preprocess, so every later reader of the checkpoint decodes alike
    size = spec.image_size or catalog.FOLDER_IMAGE_SIZE
    channels = spec.channels or 3
    train_side, train_crop = train_cache_side(size, spec.augmentation)
    need_mb = (estimate_cache_mb(len(found.train), train_side, train_crop)
               + estimate_cache_mb(len(found.val) + len(found.test), size, True))
    cached = spec.cache_mb > 0 and need_mb <= spec.cache_mb
    groups = [(found.train, train_side, train_crop), (found.val, size, True), (found.test, size, True)]
    counted = Offset(progress, sum(len(g[0]) for g in groups))  # train, val and test on one bar
    decoded, excluded = [], []
    for samples, side, crop in groups:
        images, errors = decode_files([p for p, _ in samples], side, crop, rule=rule, progress=counted,
                                      keep=cached)
        counted.advance(len(samples))
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
            train_imgs_for_stats, _ = decode_files([train[i][0] for i in idx], size, True, rule=rule)
            stats_source = [t for t in train_imgs_for_stats if t is not None]
        else:
            stats_source = train_imgs
        mean, std = sampled_stats([match_channels(t, channels) for t in stats_source], seed=spec.seed)
    pre = Preprocess(image_size=size, channels=channels, mean=mean, std=std, decode=rule)
    train_tf = train_transform(pre, spec.augmentation)

    def labels(samples):
        return torch.tensor([label for _, label in samples], dtype=torch.long)

    def eval_set(samples, images):
        if cached:
            stacked = torch.stack(images) if images else torch.zeros(0, 3, size, size, dtype=torch.uint8)
            return ArrayDataset(stacked, labels(samples), pre)
        return FileDataset(samples, pre)

    if cached and not train_crop:
        train_ds = CachedImageDataset(train_imgs, labels(train).tolist(), train_tf, [p for p, _ in train])
    elif cached:
        train_ds = ArrayDataset(torch.stack(train_imgs), labels(train), pre,
                                train_tf if spec.augmentation.any() else None)
    else:
        train_ds = FileDataset(train, pre, side=train_side, crop=train_crop, transform=train_tf)
    return DataBundle(
        train=train_ds, val=eval_set(val, val_imgs), classes=found.classes, preprocess=pre, spec=spec,
        test=eval_set(test, test_imgs) if found.test else None, excluded=excluded,
    )


def build_data(spec: DataSpec, progress: Progress = NO_PROGRESS) -> DataBundle:
    """Build the bundle for `spec`. `progress` (core.progress) lets a GUI run it off-thread and cancel it."""
    if spec.name in catalog.BUILTIN_DATASETS:
        return _build_shapes(spec)
    if spec.name in catalog.STANDARD_DATASETS:
        from core.data.standard import build_standard

        return build_standard(spec)
    return _build_folder(spec, progress)
