"""Where a run is inside an epoch, so that a stop (or a periodic checkpoint) mid-epoch resumes exactly.

The training order of an epoch depends only on (seed, epoch): `EpochOrderSampler` draws one permutation from a
generator seeded with both, and the loader can start it after the batches already done without loading them. Together
with the torch RNG state saved after the last done batch (dropout, augmentation), a resumed run makes the
same steps with the same losses as one that was never stopped (exactly so with num_workers=0; with worker
processes the order is the same but augmentation draws may differ).
"""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class EpochPosition:
    epoch: int  # epochs completed before this one (the trainer's `epoch` while it runs)
    batch: int  # batches of this epoch done
    step: int  # the global step after the last done batch
    loss_sum: float  # running sums for the epoch's train loss / accuracy
    correct: int
    seen: int
    rng: torch.Tensor  # torch's global RNG state after the last done batch

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "batch": self.batch, "step": self.step, "loss_sum": float(self.loss_sum),
                "correct": int(self.correct), "seen": int(self.seen), "rng": self.rng}

    @classmethod
    def from_dict(cls, d) -> EpochPosition | None:
        """None for a missing or malformed position (the epoch is then replayed from its start)."""
        if not isinstance(d, dict):
            return None
        try:
            position = cls(epoch=int(d["epoch"]), batch=int(d["batch"]), step=int(d["step"]),
                           loss_sum=float(d["loss_sum"]), correct=int(d["correct"]), seen=int(d["seen"]),
                           rng=d["rng"])
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(position.rng, torch.Tensor) or position.rng.dtype != torch.uint8 or position.batch < 0:
            return None
        return position
