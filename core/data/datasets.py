"""Dataset classes shared by every source: in-memory arrays (shapes, MNIST-like) and image files on disk."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
from torch.utils.data import Dataset

from core.data.transforms import Preprocess
from core.imageio import load_image


class ArrayDataset(Dataset):
    """uint8 images [N, C, H, W] in memory. Without a transform, only normalisation is applied (fast path)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pre: Preprocess,
                 transform: Callable | None = None):
        self.images, self.labels, self.transform = images, labels, transform
        c = pre.channels
        self._mean = torch.tensor(pre.mean, dtype=torch.float32).view(c, 1, 1)
        self._std = torch.tensor(pre.std, dtype=torch.float32).view(c, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        x = self.images[index]
        if self.transform is not None:
            return self.transform(x), int(self.labels[index])
        return (x.float().div_(255.0) - self._mean) / self._std, int(self.labels[index])


class FileDataset(Dataset):
    """Image files on disk, each read through the one safe loader, then `transform`."""

    def __init__(self, samples: Sequence[tuple[Path, int]], transform: Callable):
        self.samples = list(samples)
        self.transform = transform

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        return self.transform(load_image(path)), label
