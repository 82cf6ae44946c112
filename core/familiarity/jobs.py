"""The headless jobs that the CLI, the GUI and the trainer callback call (phase 2 wires them, nothing more).

- checkpoint_features: a checkpoint's feature pass over its training + validation images, kept in its run
  folder (RUN/familiarity/features-<checksum>.npz) and reused while the weights are the same;
- build_bank: the feature bank stored beside a checkpoint that lacks one (best.pt -> best.familiarity.npz);
- bank_for_checkpoint: that bank, or None ("familiarity unknown"); a damaged or stale one raises;
- epoch_features: the pass at the end of an epoch during training (RUN/familiarity/epoch-N.npz);
- score_inputs: probabilities and familiarity of new images from ONE forward (predict, the inspector).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Subset

from core.checkpoints.checkpoint import Checkpoint, load_checkpoint
from core.checkpoints.schema import weights_checksum
from core.familiarity import store
from core.models.hooks import features_and_output, last_linear
from core.familiarity._progress import steps
from core.familiarity.bank import FeatureBank, make_bank
from core.familiarity.bank_file import bank_path, load_bank, save_bank
from core.familiarity.errors import BankError
from core.familiarity.features import FeatureSet, extract_features
from core.familiarity.scoring import Familiarity, familiarity_many
from core.familiarity.sources import ImageSet, bundle_sets, checkpoint_sets
from core.runs.index import is_run_folder


@dataclass
class LoadedCheckpoint:
    checkpoint: Checkpoint
    path: Path | None  # where it was loaded from (None: built in memory)
    checksum: str  # of its weights

    @property
    def run_dir(self) -> Path | None:
        return self.path.parent if self.path is not None else None


def open_checkpoint(checkpoint: Checkpoint | str | os.PathLike) -> LoadedCheckpoint:
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    path = Path(ckpt.source) if ckpt.source else (None if isinstance(checkpoint, Checkpoint) else Path(checkpoint))
    return LoadedCheckpoint(ckpt, path, weights_checksum(ckpt.model_state))


def checkpoint_features(checkpoint: Checkpoint | str | os.PathLike, dataset: str | os.PathLike | None = None, *,
                        device: str = "cpu", batch_size: int = 256, keep: bool = True, progress=None,
                        cancelled=None) -> tuple[FeatureSet, LoadedCheckpoint]:
    """The features of the checkpoint's training + validation images. With its own data (dataset None) and a
    checkpoint inside a run folder, the pass is kept there and reused while the weights are the same; a
    stale or damaged file is ignored (and replaced)."""
    tracker = steps(progress, cancelled)
    loaded = open_checkpoint(checkpoint)
    in_run = loaded.run_dir is not None and is_run_folder(loaded.run_dir)  # never litter a folder of .pt files
    cache = store.checkpoint_features_path(loaded.run_dir, loaded.checksum) if keep and dataset is None and in_run \
        else None
    if cache is not None and cache.is_file():
        try:
            features, classes, _ = store.load_features(cache, loaded.checksum)
            if classes == list(loaded.checkpoint.classes):
                return features, loaded
        except BankError:
            pass  # damaged or stale: computed again below, and the file replaced
    sets = checkpoint_sets(loaded.checkpoint, dataset, progress=lambda d, t: tracker.report(d, t, "reading images"),
                           cancel=tracker.is_cancelled)
    model = loaded.checkpoint.build_model().to(device)
    features = extract_features(model, sets, batch_size=batch_size, progress=tracker)
    features.features = features.features.astype(np.float16).astype(np.float32)  # as kept: same map either way
    if cache is not None:
        store.save_features(cache, features, loaded.checkpoint.classes, loaded.checksum)
    return features, loaded


def build_bank(checkpoint: Checkpoint | str | os.PathLike, dataset: str | os.PathLike | None = None, *,
               out: str | os.PathLike | None = None, k: int | None = None, device: str = "cpu",
               batch_size: int = 256, progress=None, cancelled=None) -> Path:
    """Compute and store the feature bank of a checkpoint (beside it unless `out` names the file)."""
    features, loaded = checkpoint_features(checkpoint, dataset, device=device, batch_size=batch_size,
                                           progress=progress, cancelled=cancelled)
    bank = make_bank(features, loaded.checkpoint.classes, loaded.checksum, k=k)
    if out is None and loaded.path is None:
        raise BankError("this checkpoint was not loaded from a file; say where to store its bank (out=...)")
    return save_bank(bank, out if out is not None else bank_path(loaded.path))


def bank_for_checkpoint(checkpoint: Checkpoint | str | os.PathLike, model: nn.Module | None = None
                        ) -> FeatureBank | None:
    """The bank beside the checkpoint, checked against its weights; None when there is none (familiarity
    unknown). BankError / StaleBankError when one is there but damaged, edited or made for other weights."""
    loaded = open_checkpoint(checkpoint)
    if loaded.path is None:
        return None
    path = bank_path(loaded.path)
    if not path.exists() and not path.is_symlink():
        return None
    width = last_linear(model)[1].in_features if model is not None else None
    return load_bank(path, loaded.checksum, loaded.checkpoint.classes, width)


@dataclass
class ScoredBatch:
    probabilities: np.ndarray  # [B, K]
    features: np.ndarray  # [B, D] penultimate features (to place the images on a map)
    familiarity: list[Familiarity] | None  # None without a bank: familiarity unknown


def score_inputs(model: nn.Module, bank: FeatureBank | None, inputs: torch.Tensor) -> ScoredBatch:
    """Normalised inputs [B, C, H, W] -> probabilities, features and familiarity from a single forward in
    eval mode (predict and the inspector need no second pass)."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            features, logits = features_and_output(model, inputs)
    finally:
        model.train(was_training)
    features = features.float().cpu()
    return ScoredBatch(torch.softmax(logits.float(), dim=1).cpu().numpy(), features.numpy(),
                       familiarity_many(bank, features) if bank is not None else None)


def _sampled(sets: list[ImageSet], max_images: int | None, seed: int = 0) -> list[ImageSet]:
    """At most `max_images` in all, the same ones at every epoch (a seeded choice per split, kept in order)."""
    total = sum(len(s.labels) for s in sets)
    if max_images is None or total <= max_images:
        return sets
    out = []
    for s in sets:
        n = len(s.labels)
        take = max(1, round(max_images * n / total))
        rows = np.sort(np.random.default_rng(seed).choice(n, size=min(take, n), replace=False))
        out.append(ImageSet(s.split, Subset(s.dataset, rows.tolist()), [s.ids[i] for i in rows], s.labels[rows]))
    return out


def epoch_features(model: nn.Module, bundle, run_dir: str | os.PathLike, epoch: int, *,
                   max_images: int | None = 20_000, batch_size: int = 256, progress=None, cancelled=None) -> Path:
    """The feature pass of a model being trained, at the end of `epoch` (the trainer callback of phase 2
    calls this every N epochs, between epochs, on the training thread): RUN/familiarity/epoch-N.npz."""
    sets = _sampled(bundle_sets(bundle), max_images)
    features = extract_features(model, sets, batch_size=batch_size, progress=progress, cancelled=cancelled)
    checksum = weights_checksum(model.state_dict())
    return store.save_features(store.epoch_features_path(run_dir, epoch), features, bundle.classes, checksum, epoch)
