"""Decoded small images in memory, so later epochs never decode a JPEG again.

Photos are decoded once, in the main process, by a thread pool (Pillow releases the GIL while it decodes
and resizes), through the one pipeline (core.data.pipeline: the decode rule, at a reduced JPEG scale by
default) and straight down to a small uint8 tensor:
- validation / test images: exactly the eval geometry (shorter side = S, centre crop S x S), so their
  dataset only normalises;
- training images: the shorter side a little above S (TRAIN_MARGIN) and uncropped, so random crops, flips
  and colour jitter still apply to every epoch's copy (only when there is a random crop; otherwise the
  exact eval geometry as well).
Because the cache is filled before the DataLoader exists, it also works with DataLoader workers: forked
workers share the tensors, spawned ones receive them pickled; nothing is filled inside a worker and lost.
The same pass finds the files that cannot be decoded, which the folder bundle then leaves out.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch.utils.data import Dataset

from core.data.pipeline import decode_pixels
from core.data.transforms import DECODE_REDUCED, Augmentation
from core.io.images import ImageLoadError
from core.progress import NO_PROGRESS, Progress

TRAIN_MARGIN = 1.15  # training images are cached this much larger than S, room for random crops
ASPECT_GUESS = 4 / 3  # photos are mostly 4:3; used to estimate the cache size before decoding



def default_threads() -> int:
    """Decode threads: one per core, at least 2 (decoding also waits on the disk)."""
    return max(2, min(16, os.cpu_count() or 2))


def train_cache_side(image_size: int, aug: Augmentation) -> tuple[int, bool]:
    """(shorter side, centre-crop?) for cached training images under this augmentation."""
    if aug.random_resized_crop:
        return int(round(image_size * TRAIN_MARGIN)), False
    return int(image_size), True


def estimate_cache_mb(count: int, side: int, crop: bool) -> float:
    """Approximate memory in MB for `count` cached RGB images of shorter side `side`."""
    per_image = side * side * 3 * (1.0 if crop else ASPECT_GUESS)
    return count * per_image / 2**20


def decode_files(paths: Sequence[str | Path], side: int, crop: bool, *, rule: str = DECODE_REDUCED,
                 threads: int | None = None, progress: Progress = NO_PROGRESS,
                 keep: bool = True) -> tuple[list[torch.Tensor | None], dict[int, str]]:
    """Decode many files in parallel (core.data.pipeline.decode_pixels under the decode `rule`) -> (uint8 images
    or None per file, {index: reason} for unreadable files).

    With keep=False the images are dropped right after decoding (a validity pass only). `progress` hears
    every chunk; a cancel stops the pass (core.errors.Cancelled)."""
    images: list[torch.Tensor | None] = [None] * len(paths)
    errors: dict[int, str] = {}

    def work(i: int):
        try:
            img = decode_pixels(paths[i], rule, side, crop)
            return i, (img if keep else None), None
        except ImageLoadError as exc:
            return i, None, exc.reason

    done = 0
    with ThreadPoolExecutor(max_workers=threads or default_threads()) as pool:
        # Submit in chunks so a cancel stops the pass quickly instead of after every file is queued.
        chunk = 64
        for start in range(0, len(paths), chunk):
            progress.check_cancelled()
            for i, img, reason in pool.map(work, range(start, min(start + chunk, len(paths)))):
                images[i] = img
                if reason is not None:
                    errors[i] = reason
                done += 1
            progress.update(done, len(paths), "decoding images")
    return images, errors


class CachedImageDataset(Dataset):
    """Decoded uint8 images [3, h, w] (sizes may differ) in memory, each passed through `transform`."""

    def __init__(self, images: Sequence[torch.Tensor], labels: Sequence[int], transform: Callable,
                 paths: Sequence[Path] | None = None):
        self.images = list(images)
        self.labels = [int(v) for v in labels]
        self.transform = transform
        self.paths = list(paths) if paths is not None else None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(self.images[index]), self.labels[index]

    def raw_image(self, index: int) -> torch.Tensor:
        """The cached uint8 image [3, h, w] before any transform."""
        return self.images[index]
