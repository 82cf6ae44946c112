"""Dataset classes shared by every source: in-memory arrays (shapes, MNIST-like) and image files on disk.
Both turn their images into tensors through the one pipeline (core.data.pipeline)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
from torch.utils.data import Dataset

from core.data.pipeline import Normalise, decode_pixels, match_channels
from core.data.transforms import Preprocess


class ArrayDataset(Dataset):
    """uint8 images [N, C, H, W] in memory. Without a transform, only normalisation is applied (fast path)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pre: Preprocess,
                 transform: Callable | None = None):
        self.images, self.labels, self.transform = images, labels, transform
        self.channels = pre.channels
        self._normalise = Normalise(pre)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        x = match_channels(self.images[index], self.channels)
        if self.transform is not None:
            return self.transform(x), int(self.labels[index])
        return self._normalise(x), int(self.labels[index])

    def raw_image(self, index: int) -> torch.Tensor:
        """The stored uint8 image [C, H, W] before any transform."""
        return self.images[index]


class FileDataset(Dataset):
    """Image files on disk, each decoded and fitted by the pipeline (`rule`, shorter side `side`, centre-cropped
    if `crop`), then passed through `transform` (training's augmentation) or normalised as `pre` says."""

    def __init__(self, samples: Sequence[tuple[Path, int]], pre: Preprocess, *, side: int | None = None,
                 crop: bool = True, transform: Callable | None = None):
        self.samples = list(samples)
        self.rule = pre.decode
        self.side = side or pre.image_size
        self.crop = crop
        self.transform = transform or Normalise(pre)

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        return self.transform(self.raw_image(index)), self.samples[index][1]

    def raw_image(self, index: int) -> torch.Tensor:
        """The file decoded to uint8 [3, H, W] before any transform."""
        return decode_pixels(self.samples[index][0], self.rule, self.side, self.crop)
