"""The training order of an epoch: one seeded permutation that depends only on (seed, epoch).

The one seeding scheme for loaders: the trainer's sampler (core.training.sampling) and `core.data.make_loader`
both draw the order here, and a loader's own generator (its workers' seeds) comes from `loader_generator`,
so making and iterating a loader never draws from the global torch RNG and a resumed run sees the same batches.
"""
from __future__ import annotations

import torch
from torch.utils.data import Sampler


def order_seed(seed: int, epoch: int) -> int:
    return (seed * 100_003 + epoch) % 2**63


def loader_generator(seed: int, epoch: int) -> torch.Generator:
    """The DataLoader's own generator (worker seeds), a stream apart from the order's."""
    return torch.Generator().manual_seed(order_seed(seed, epoch) + 1)


class EpochOrderSampler(Sampler[int]):
    """One seeded permutation of the dataset, from sample `start` on."""

    def __init__(self, size: int, seed: int, epoch: int, start: int = 0):
        self.size, self.seed, self.epoch, self.start = size, seed, epoch, max(0, start)

    def __iter__(self):
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(order_seed(self.seed, self.epoch)))
        return iter(order[self.start:].tolist())

    def __len__(self) -> int:
        return max(0, self.size - self.start)
