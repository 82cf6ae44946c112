"""One epoch's order (core.data.order) cut into global batches, each shared among the processes of a run.

--batch-size is the GLOBAL batch: a run has the same steps per epoch at any world size, and a checkpoint's
position (batches done) means the same samples at any world size.
"""
from __future__ import annotations

from torch.utils.data import Sampler

from core.data.order import EpochOrderSampler


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
