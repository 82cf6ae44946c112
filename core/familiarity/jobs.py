"""The headless jobs that the CLI, the GUI and the trainer's callbacks call.

- checkpoint_features: a checkpoint's feature pass over its training + validation images, kept in its run
  folder (RUN/familiarity/features-<checksum>.npz) and reused while the weights are the same;
- build_bank: the feature bank stored beside a checkpoint that lacks one (best.pt -> best.familiarity.npz);
- bank_for_checkpoint: that bank, or None ("familiarity unknown"); a damaged or stale one raises;
- run_banks: the banks of a run's best.pt and last.pt when training ends (during_training.py);
- epoch_features: the pass at the end of an epoch during training (RUN/familiarity/epoch-N.npz);
- score_inputs: probabilities and familiarity of new images from ONE forward (predict, the inspector).
Every long one takes a core.progress Progress.
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
from core.familiarity.bank import FeatureBank, make_bank
from core.familiarity.bank_file import bank_path, load_bank, save_bank
from core.familiarity.errors import BankError
from core.familiarity.features import FeatureSet, extract_features, images_features
from core.familiarity.scoring import Familiarity, familiarity_many
from core.familiarity.sources import ImageSet, bundle_sets, checkpoint_sets
from core.familiarity.views import View, capture, plan_views
from core.models.hooks import last_linear, model_device
from core.progress import NO_PROGRESS, Progress, share
from core.runs.index import is_run_folder
from core.runs.layout import RunLayout

EPOCH_MAX_IMAGES = 20_000  # an epoch's pass for the map looks at this many images at most (the same ones each time)


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


def _kept_pass(cache: Path | None, loaded: LoadedCheckpoint) -> FeatureSet | None:
    """The pass kept for these weights, when it is whole and made with the model's block views."""
    if cache is None or not cache.is_file():
        return None
    try:
        features, classes, _ = store.load_features(cache, loaded.checksum)
    except BankError:
        return None  # damaged or stale: computed again, and the file replaced
    return features if classes == list(loaded.checkpoint.classes) else None


def checkpoint_features(checkpoint: Checkpoint | str | os.PathLike, dataset: str | os.PathLike | None = None, *,
                        device: str = "cpu", batch_size: int = 256, keep: bool = True,
                        progress: Progress = NO_PROGRESS) -> tuple[FeatureSet, LoadedCheckpoint]:
    """The features of the checkpoint's training + validation images. With its own data (dataset None) and a
    checkpoint inside a run folder, the pass is kept there and reused while the weights are the same; a
    stale or damaged file is ignored (and replaced)."""
    loaded = open_checkpoint(checkpoint)
    in_run = loaded.run_dir is not None and is_run_folder(loaded.run_dir)  # never litter a folder of .pt files
    cache = store.checkpoint_features_path(loaded.run_dir, loaded.checksum) if keep and dataset is None and in_run \
        else None
    kept = _kept_pass(cache, loaded)
    if kept is not None:
        return kept, loaded
    sets = checkpoint_sets(loaded.checkpoint, dataset, progress=share(progress, 0.0, 0.2))
    model = loaded.checkpoint.build_model().to(device)
    features = extract_features(model, sets, batch_size=batch_size, progress=share(progress, 0.2, 1.0))
    features = _as_kept(features)
    if cache is not None:
        store.save_features(cache, features, loaded.checkpoint.classes, loaded.checksum)
    return features, loaded


def _as_kept(features: FeatureSet) -> FeatureSet:
    """Rounded as the feature file keeps them, so a pass computed now and one read back give the same map."""
    features.features = features.features.astype(np.float16).astype(np.float32)
    features.views = {name: v.astype(np.float16).astype(np.float32) for name, v in features.views.items()}
    return features


def build_bank(checkpoint: Checkpoint | str | os.PathLike, dataset: str | os.PathLike | None = None, *,
               out: str | os.PathLike | None = None, k: int | None = None, device: str = "cpu",
               batch_size: int = 256, progress: Progress = NO_PROGRESS) -> Path:
    """Compute and store the feature bank of a checkpoint (beside it unless `out` names the file)."""
    features, loaded = checkpoint_features(checkpoint, dataset, device=device, batch_size=batch_size,
                                           progress=share(progress, 0.0, 0.95))
    if out is None and loaded.path is None:
        raise BankError("this checkpoint was not loaded from a file; say where to store its bank (out=...)")
    progress.update(95, 100, "calibrating")
    bank = make_bank(features, loaded.checkpoint.classes, loaded.checksum, k=k)
    saved = save_bank(bank, out if out is not None else bank_path(loaded.path))
    progress.update(100, 100, "calibrated")
    return saved


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


def bank_views(bank: FeatureBank | None) -> list[View]:
    return [v.view for v in bank.views] if bank is not None else []


@dataclass
class ScoredBatch:
    probabilities: np.ndarray  # [B, K]
    features: np.ndarray  # [B, D] penultimate features (to place the images on a map)
    familiarity: list[Familiarity] | None  # None without a bank: familiarity unknown


def score_inputs(model: nn.Module, bank: FeatureBank | None, inputs: torch.Tensor) -> ScoredBatch:
    """Normalised inputs [B, C, H, W] -> probabilities, features and familiarity from a single forward in
    eval mode (predict and the inspector need no second pass)."""
    features, logits, views = capture(model, inputs, bank_views(bank))
    features = features.float().cpu().numpy()
    scored = images_features(features, {name: v.cpu().numpy() for name, v in views.items()})
    return ScoredBatch(torch.softmax(logits.float(), dim=1).cpu().numpy(), features,
                       familiarity_many(bank, scored) if bank is not None else None)


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
                   max_images: int | None = EPOCH_MAX_IMAGES, batch_size: int = 256,
                   progress: Progress = NO_PROGRESS) -> Path:
    """The feature pass of a model being trained, at the end of `epoch` (the --embed-every callback calls
    this between epochs, on the training thread): RUN/familiarity/epoch-N.npz, the penultimate features only
    (what the map is drawn from)."""
    sets = _sampled(bundle_sets(bundle), max_images)
    features = extract_features(model, sets, batch_size=batch_size, views=[], progress=progress)
    checksum = weights_checksum(model.state_dict())
    return store.save_features(store.epoch_features_path(run_dir, epoch), features, bundle.classes, checksum, epoch)


def run_banks(model: nn.Module, bundle, run_dir: str | os.PathLike, *, batch_size: int = 256,
              progress: Progress = NO_PROGRESS) -> list[Path]:
    """The banks of a finished run's checkpoints (best.familiarity.npz, last.familiarity.npz), so they score
    new images with no dataset at hand. One pass over the unaugmented training + validation images per set of
    weights: the model in memory for last.pt (the run's last weights), best.pt's own weights when they differ.
    Each pass is also kept as the checkpoint's feature file (the map reuses it)."""
    layout = RunLayout(run_dir)
    sets = bundle_sets(bundle)
    done: dict[str, FeatureSet] = {}
    live = weights_checksum(model.state_dict())
    written = []
    paths = [p for p in (layout.last_checkpoint, layout.best_checkpoint) if p.is_file()]
    for i, path in enumerate(paths):
        loaded = open_checkpoint(path)
        stage = share(progress, i / len(paths), (i + 1) / len(paths))
        features = done.get(loaded.checksum)
        if features is None:
            source = model if loaded.checksum == live else loaded.checkpoint.build_model().to(model_device(model))
            features = _as_kept(extract_features(source, sets, batch_size=batch_size, progress=stage))
            store.save_features(layout.checkpoint_features(loaded.checksum), features, bundle.classes,
                                loaded.checksum)
            done[loaded.checksum] = features
        bank = make_bank(features, list(bundle.classes), loaded.checksum)
        written.append(save_bank(bank, bank_path(path)))
    return written


def model_views(model: nn.Module, channels: int, size: int) -> list[View]:
    """The block views of a model for inputs of `channels` x `size` x `size` (one dry forward)."""
    example = torch.zeros(1, channels, size, size, device=model_device(model))
    return plan_views(model, example)
