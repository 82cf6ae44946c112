"""The training order of an epoch: one seeded permutation that depends only on (seed, epoch)."""
from __future__ import annotations

import torch
from torch.utils.data import Sampler


def _order_seed(seed: int, epoch: int) -> int:
    return (seed * 100_003 + epoch) % 2**63


class EpochOrderSampler(Sampler[int]):
    """One seeded permutation of the dataset, from sample `start` on."""

    def __init__(self, size: int, seed: int, epoch: int, start: int = 0):
        self.size, self.seed, self.epoch, self.start = size, seed, epoch, max(0, start)

    def __iter__(self):
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(_order_seed(self.seed, self.epoch)))
        return iter(order[self.start:].tolist())

    def __len__(self) -> int:
        return max(0, self.size - self.start)
