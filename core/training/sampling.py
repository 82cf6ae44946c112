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

from core.data.order import EpochOrderSampler


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


class GlobalBatchShardSampler(Sampler[list[int]]):
    """Batches of one epoch's seeded order, from global batch `skip_batches` on; each yields this rank's
    share (interleaved: rank r takes positions r, r+W, ... of the global batch), so shards never overlap and
    together cover every sample. A last global batch with fewer samples than processes is dropped when W > 1
    (a rank may not train on nothing while the others wait for its gradients)."""

    def __init__(self, size: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1,
                 skip_batches: int = 0):
        self.size, self.batch_size, self.rank, self.world = size, batch_size, rank, world_size
        self.order = EpochOrderSampler(size, seed, epoch)
        self.skip = skip_batches

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.order.epoch, self.skip = epoch, skip_batches

    def global_batches(self) -> int:
        return global_batches(self.size, self.batch_size, self.world)

    def __iter__(self):
        order = list(iter(self.order))
        for b in range(self.skip, self.global_batches()):
            chunk = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield chunk[self.rank::self.world]

    def __len__(self) -> int:
        return max(0, self.global_batches() - self.skip)


def global_batches(size: int, batch_size: int, world_size: int = 1) -> int:
    full, rest = divmod(size, batch_size)
    return full + (1 if rest and (world_size == 1 or rest >= world_size) else 0)


def global_batch_count(size: int, batch_size: int, batch_index: int) -> int:
    """How many samples global batch `batch_index` holds (over all processes)."""
    return max(0, min(batch_size, size - batch_index * batch_size))
