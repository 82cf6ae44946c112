"""Normalisation statistics (per-channel mean and std) measured on the training data.

A folder of X-rays or microscope slides is far from ImageNet's colours; normalising with its own statistics
keeps inputs near zero mean / unit variance. A pretrained network is the exception: it must see the
statistics it was trained with, so the caller passes the weights' own mean / std instead.
"""
from __future__ import annotations

import random
from typing import Iterable, Sequence

import torch

DEFAULT_SAMPLE = 1000  # images; the statistics of 1,000 photos hardly move with more


def sample_indices(count: int, n: int = DEFAULT_SAMPLE, seed: int = 0) -> list[int]:
    """A seeded sample of at most n indices out of range(count), sorted."""
    if count <= n:
        return list(range(count))
    return sorted(random.Random(seed).sample(range(count), n))


def image_stats(images: Iterable[torch.Tensor]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std over every pixel of uint8 images [C, H, W] (sizes may differ), in [0, 1]."""
    total = None
    total_sq = None
    pixels = 0
    for img in images:
        x = img.to(torch.float64).div_(255.0).flatten(1)
        s, sq = x.sum(1), (x * x).sum(1)
        total = s if total is None else total + s
        total_sq = sq if total_sq is None else total_sq + sq
        pixels += x.shape[1]
    if not pixels:
        raise ValueError("no images to measure")
    mean = total / pixels
    std = (total_sq / pixels - mean * mean).clamp_min(0).sqrt().clamp_min(1e-3)
    return tuple(round(float(v), 4) for v in mean), tuple(round(float(v), 4) for v in std)


def sampled_stats(images: Sequence[torch.Tensor], n: int = DEFAULT_SAMPLE, seed: int = 0):
    """image_stats over a seeded sample of n images."""
    return image_stats(images[i] for i in sample_indices(len(images), n, seed))
