"""The one forward pass over a pool: each photo's probabilities and penultimate features (one forward, through
the familiarity engine's feature pass) and, when the checkpoint has a feature bank, its familiarity.
Unreadable photos are left out and listed, never fatal."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from core.checkpoints.checkpoint import Checkpoint, load_checkpoint
from core.data.pipeline import model_input
from core.data.transforms import Preprocess
from core.errors import LayerscopeError
from core.familiarity.features import FeatureSet, extract_features
from core.familiarity.sources import ImageSet
from core.io.images import ImageLoadError
from core.progress import NO_PROGRESS, Progress


class _PoolImages(Dataset):
    """The pool's files through the one image pipeline under the checkpoint's Preprocess (as evaluate and predict
    read them); an unreadable file gives zeros and is noted (the pass runs in this process: num_workers=0)."""

    def __init__(self, paths: list[Path], pre: Preprocess):
        self.paths, self.pre = paths, pre
        self.blank = torch.zeros(pre.channels, pre.image_size, pre.image_size)
        self.failed: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        try:
            return model_input(self.paths[index], self.pre), 0
        except ImageLoadError as exc:
            self.failed[index] = exc.reason
            return self.blank, 0


@dataclass
class PoolScores:
    paths: list[Path]
    classes: list[str]
    probabilities: np.ndarray  # [N, K]
    features: np.ndarray  # [N, D]
    familiarity: np.ndarray | None = None  # [N] in [0, 1]; None: the checkpoint has no bank (unknown)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason), left out
    feature_set: FeatureSet | None = None  # the same rows with the block views familiarity scores with


def _bank(checkpoint_path: Path | None):
    """The checkpoint's feature bank, built once when missing; None when it cannot be had (unknown)."""
    if checkpoint_path is None:
        return None
    from core.familiarity.jobs import bank_for_checkpoint, build_bank

    try:
        bank = bank_for_checkpoint(checkpoint_path)
        if bank is None:
            build_bank(checkpoint_path)
            bank = bank_for_checkpoint(checkpoint_path)
        return bank
    except (LayerscopeError, OSError):
        return None  # familiarity unknown: the other strategies still work


def score_pool(checkpoint: Checkpoint | str | os.PathLike, paths: list[Path], *, familiarity: bool = True,
               batch_size: int = 128, progress: Progress = NO_PROGRESS) -> PoolScores:
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    source = Path(ckpt.source) if ckpt.source else (None if isinstance(checkpoint, Checkpoint) else Path(checkpoint))
    pre = ckpt.preprocess
    images = _PoolImages(list(paths), pre)
    model = ckpt.build_model()
    found = extract_features(model, [ImageSet("other", images, [str(p) for p in paths], np.zeros(len(paths)))],
                             batch_size=batch_size, progress=progress)
    good = np.array([i for i in range(len(paths)) if i not in images.failed], dtype=np.int64)
    probabilities = torch.softmax(torch.from_numpy(found.logits), dim=1).numpy() if len(paths) else \
        np.zeros((0, len(ckpt.classes)), np.float32)
    features = found.features if len(paths) else np.zeros((0, 0), np.float32)
    scores = PoolScores([paths[i] for i in good], list(ckpt.classes), probabilities[good], features[good],
                        unreadable=[(str(paths[i]), reason) for i, reason in sorted(images.failed.items())],
                        feature_set=found.subset(good) if len(paths) else None)
    bank = _bank(source) if familiarity else None
    if bank is not None and len(good):
        from core.familiarity.scoring import familiarity_scores

        scores.familiarity = familiarity_scores(bank, scores.feature_set)  # with the bank's block views
    return scores
