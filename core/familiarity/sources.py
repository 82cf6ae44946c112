"""Which images a feature pass runs over: the training and validation images, unaugmented.

An ImageSet is one split: a dataset yielding (normalised tensor, label), one id per item (a file path, or an
in-memory id such as "shapes:train/00012" that core/evaluate/images.py turns into a picture) and the labels.
Two ways in: a checkpoint and a dataset (the checkpoint's own data by default, preprocessed with the
checkpoint's own Preprocess, through core/evaluate/source.py), or the DataBundle a training run already holds
(for the per-epoch pass, where the training split must be seen without its augmentation).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from core.checkpoints.checkpoint import Checkpoint
from core.data.cache import CachedImageDataset
from core.data.datasets import ArrayDataset, FileDataset
from core.data.pipeline import eval_transform
from core.data.transforms import Preprocess
from core.errors import LayerscopeError
from core.progress import NO_PROGRESS, Progress, share

SPLITS = ("train", "val")


@dataclass
class ImageSet:
    split: str  # "train" or "val"
    dataset: Dataset
    ids: list[str]
    labels: np.ndarray  # int64 [N], indices into the model's classes

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if not (len(self.ids) == len(self.labels) == len(self.dataset)):
            raise ValueError(f"{self.split}: {len(self.ids)} ids, {len(self.labels)} labels and "
                             f"{len(self.dataset)} images should be as many")


def checkpoint_sets(ckpt: Checkpoint, dataset: str | Path | None = None, splits=SPLITS,
                    progress: Progress = NO_PROGRESS) -> list[ImageSet]:
    """The checkpoint's training and validation images (its own data when `dataset` is None)."""
    from core.evaluate.source import eval_data  # imports the evaluation stack only when a checkpoint needs it

    sets = []
    for i, split in enumerate(splits):
        data = eval_data(ckpt, dataset, split, progress=share(progress, i / len(splits), (i + 1) / len(splits)))
        sets.append(ImageSet(split, data.dataset, list(data.files), np.asarray(data.labels)))
    return sets


def eval_view(dataset: Dataset, pre: Preprocess) -> Dataset:
    """The same items without augmentation: the validation transform, as the checkpoint will see new images."""
    if isinstance(dataset, ArrayDataset):
        return ArrayDataset(dataset.images, dataset.labels, pre)
    if isinstance(dataset, CachedImageDataset):  # training copies are cached a little larger: resize + crop
        return CachedImageDataset(dataset.images, dataset.labels, eval_transform(pre), dataset.paths)
    if isinstance(dataset, FileDataset):
        return FileDataset(dataset.samples, pre)  # the pipeline's eval geometry under the checkpoint's rule
    return dataset  # a dataset of another kind is used as it is


def item_ids(dataset: Dataset, name: str, split: str) -> list[str]:
    """Paths where the dataset knows them, else ids like "shapes:train/00012" (as evaluations name them)."""
    if isinstance(dataset, FileDataset):
        return [str(path) for path, _ in dataset.samples]
    if isinstance(dataset, CachedImageDataset) and dataset.paths is not None:
        return [str(path) for path in dataset.paths]
    prefix = name if re.fullmatch(r"[a-z0-9_]+", name) else "data"
    return [f"{prefix}:{split}/{i:05d}" for i in range(len(dataset))]


def _folder_paths(bundle, split: str, n: int) -> list[str] | None:
    """The files of a folder dataset's split that a run loaded into memory (so the nearest images are files
    the app can show and open), found again as the data layer split them; None when they do not add up."""
    spec = bundle.spec
    if not spec.is_folder:
        return None
    from core.data.folder import scan_folder_splits

    excluded = {str(f) for f, _ in bundle.excluded}
    try:
        found = scan_folder_splits(Path(spec.name), spec.val_fraction, spec.seed)
    except (OSError, ValueError, LayerscopeError):  # the folder changed or went away: ids, not paths
        return None
    paths = [str(p) for p, _ in getattr(found, split, []) if str(p) not in excluded]
    return paths if len(paths) == n else None


def bundle_sets(bundle) -> list[ImageSet]:
    """A training run's DataBundle -> its training and validation images, unaugmented."""
    sets = []
    for split, dataset in (("train", bundle.train), ("val", bundle.val)):
        view = eval_view(dataset, bundle.preprocess)
        labels = np.asarray([int(v) for v in dataset.labels], dtype=np.int64)
        ids = _folder_paths(bundle, split, len(labels)) or item_ids(dataset, bundle.spec.name, split)
        sets.append(ImageSet(split, view, ids, labels))
    return sets
