"""What the augmentation does to the training images: a grid of samples for the GUI's live preview.

The same geometric and colour steps as `train_transform`, without normalisation, so the result is a plain
uint8 picture. The same `seed` gives the same images and the same random draws, so changing one slider
changes only what that option does.
"""
from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms import v2 as T

from core import catalog
from core.data.transforms import Augmentation

PREVIEW_FOLDER_DECODE = 64  # files decoded for a spec preview: only the sampled ones


def augment_uint8(image_size: int, aug: Augmentation) -> T.Compose:
    """uint8 [C, H, W] -> augmented uint8 [C, S, S]: train_transform's steps minus normalisation."""
    geometry: list = []
    if aug.random_resized_crop:
        geometry.append(T.RandomResizedCrop(image_size, scale=(aug.crop_scale_min, 1.0), antialias=True))
    else:
        geometry += [T.Resize(image_size, antialias=True), T.CenterCrop(image_size)]
    if aug.horizontal_flip:
        geometry.append(T.RandomHorizontalFlip())
    if aug.rotation_degrees > 0:
        geometry.append(T.RandomRotation(aug.rotation_degrees))
    colour = [T.ColorJitter(aug.colour_jitter, aug.colour_jitter, aug.colour_jitter)] if aug.colour_jitter > 0 else []
    return T.Compose([T.ToImage(), *geometry, *colour])


def _raw_images_from_bundle(bundle, n: int, seed: int) -> list[torch.Tensor]:
    train = bundle.train
    if not hasattr(train, "raw_image"):
        raise TypeError(f"{type(train).__name__} cannot give raw images for a preview")
    count = len(train)
    idx = random.Random(seed).sample(range(count), min(n, count)) if count else []
    return [train.raw_image(i) for i in idx]


def _raw_images_from_spec(spec, n: int, seed: int) -> list[torch.Tensor]:
    if spec.is_folder:  # decode only the sampled files, not the whole folder
        from core.data.cache import decode_files
        from core.data.folder import scan_folder_splits

        found = scan_folder_splits(spec.name, spec.val_fraction, spec.seed)
        size = spec.image_size or catalog.FOLDER_IMAGE_SIZE
        picks = random.Random(seed).sample(found.train, min(n, len(found.train)))
        images, _errors = decode_files([p for p, _ in picks], int(round(size * 1.15)), False)
        return [img for img in images if img is not None]
    if spec.name in ("mnist", "fashion_mnist", "cifar10"):
        from core.data.standard import data_dir

        images = _standard_train_images(spec.name, str(data_dir()))
        idx = random.Random(seed).sample(range(len(images)), min(n, len(images)))
        return [images[i] for i in idx]
    from core.data.build import build_data

    return _raw_images_from_bundle(build_data(spec), n, seed)


@functools.lru_cache(maxsize=1)
def _standard_train_images(name: str, root: str) -> torch.Tensor:
    # A slider change asks again at once: keep the last standard set's uint8 images (MNIST: 47 MB).
    from core.data.standard import ensure_standard, load_standard

    return load_standard(name, ensure_standard(name, Path(root)))[0]


def augmentation_preview(bundle_or_spec, aug: Augmentation | None = None, n: int = 16, seed: int = 0) -> np.ndarray:
    """n training images with `aug` applied -> uint8 [n, S, S, 3] (un-normalised; grayscale shown as RGB).

    `bundle_or_spec`: a DataBundle (uses its cached images) or a DataSpec (decodes only the n samples).
    `aug` defaults to the spec's own augmentation. Fewer than n rows if the set is smaller."""
    bundle = bundle_or_spec if hasattr(bundle_or_spec, "train") else None
    spec = bundle.spec if bundle is not None else bundle_or_spec
    aug = aug if aug is not None else spec.augmentation
    size = bundle.preprocess.image_size if bundle is not None else (spec.image_size
                                                                   or catalog.natural_image_size(spec.name))
    raws = _raw_images_from_bundle(bundle, n, seed) if bundle is not None else _raw_images_from_spec(spec, n, seed)
    transform = augment_uint8(size, aug)
    # Own RNG state: the preview must neither disturb a training run's random stream nor depend on it.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = []
        for raw in raws:
            img = transform(raw)
            if img.shape[0] == 1:
                img = img.expand(3, -1, -1)
            out.append(img[:3].permute(1, 2, 0))
    if not out:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    return torch.stack(out).contiguous().numpy().astype(np.uint8, copy=False)
