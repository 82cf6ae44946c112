"""A built dataset (DataBundle: train / val / test sets, the class names, the Preprocess that checkpoints store)
and the one way to iterate one (`make_loader`: an order that depends only on the seed and the epoch)."""
from __future__ import annotations

from dataclasses import dataclass, field

from torch.utils.data import DataLoader, Dataset

from core.data.order import EpochOrderSampler, loader_generator
from core.data.spec import DataSpec
from core.data.transforms import Preprocess


@dataclass
class DataBundle:
    train: Dataset
    val: Dataset
    classes: list[str]
    preprocess: Preprocess
    spec: DataSpec
    test: Dataset | None = None  # a folder's test/ split, kept aside (never trained or validated on)
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) left out as unreadable

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0,
                num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """A loader whose order depends only on (seed, epoch): shuffled, it is the trainer's order of that epoch
    (core.data.order, the one seeding scheme)."""
    sampler = EpochOrderSampler(len(dataset), seed, epoch) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, generator=loader_generator(seed, epoch),
                      num_workers=num_workers, pin_memory=pin_memory,
                      persistent_workers=False, drop_last=False)
