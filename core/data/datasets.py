"""Dataset classes shared by every source: in-memory arrays (shapes, MNIST-like) and image files on disk."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
from torch.utils.data import Dataset

from core.data.transforms import Preprocess
from core.io.images import load_image


class ArrayDataset(Dataset):
    """uint8 images [N, C, H, W] in memory. Without a transform, only normalisation is applied (fast path)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pre: Preprocess,
                 transform: Callable | None = None):
        self.images, self.labels, self.transform = images, labels, transform
        c = self.channels = pre.channels
        self._mean = torch.tensor(pre.mean, dtype=torch.float32).view(c, 1, 1)
        self._std = torch.tensor(pre.std, dtype=torch.float32).view(c, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        x = match_channels(self.images[index], self.channels)
        if self.transform is not None:
            return self.transform(x), int(self.labels[index])
        return (x.float().div_(255.0) - self._mean) / self._std, int(self.labels[index])

    def raw_image(self, index: int) -> torch.Tensor:
        """The stored uint8 image [C, H, W] before any transform."""
        return self.images[index]


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 [C, H, W] -> `channels` channels: grayscale repeated for an RGB model, RGB -> luma for a 1-channel one."""
    if x.shape[0] == channels:
        return x
    if x.shape[0] == 1:
        return x.expand(channels, -1, -1)
    if channels == 1:  # ITU-R 601 luma, as PIL's convert("L")
        w = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        return (x[:3].float() * w).sum(0, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)
    return x


class FileDataset(Dataset):
    """Image files on disk, each read through the one safe loader, then `transform`."""

    def __init__(self, samples: Sequence[tuple[Path, int]], transform: Callable, draft_size: int | None = None):
        self.samples = list(samples)
        self.transform = transform
        self.draft_size = draft_size  # JPEGs decode at a reduced scale when the model wants small images

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        return self.transform(load_image(path, draft_size=self.draft_size)), label

    def raw_image(self, index: int) -> torch.Tensor:
        """The file decoded to uint8 [3, H, W] before any transform."""
        from torchvision.transforms.v2.functional import pil_to_tensor

        return pil_to_tensor(load_image(self.samples[index][0], draft_size=self.draft_size))
