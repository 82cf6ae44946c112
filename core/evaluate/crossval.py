"""Out-of-sample probabilities for every labelled image of a folder, by k-fold cross-validation.

Each image is predicted by a model that never trained on it, which is what label-error ranking needs (a model
that trained on a wrong label has learnt to agree with it). Images are decoded once; each fold trains a fresh
model with the normal Trainer (short: a few epochs), then predicts its held-out fold. Progress (core.progress):
reading the images fills the first tenth of the bar, the folds the rest; a cancel stops at the next batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.training.callbacks import BatchReport, Callback, RunView
from core.data.bundle import DataBundle
from core.data.datasets import ArrayDataset
from core.data.spec import DataSpec
from core.data.transforms import Preprocess
from core.errors import Cancelled
from core.evaluate.run import predict_probabilities
from core.evaluate.source import EvaluationError
from core.progress import NO_PROGRESS, Progress, Reporter
from core.models import ModelSpec, build_model
from core.training.config import TrainConfig
from core.training.guards import guards
from core.training.trainer import Trainer


@dataclass
class LabelledImages:
    """Every usable labelled image of a folder, decoded once at the working size."""

    root: Path
    classes: list[str]
    files: list[Path]
    labels: np.ndarray
    images: torch.Tensor  # uint8 [N, 3, S, S]
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def load_labelled_images(root: str | Path, image_size: int = 64, progress: Progress = NO_PROGRESS,
                         corrections: bool = True) -> LabelledImages:
    """train + val images of a folder (test/ is kept aside), label corrections applied when `corrections`."""
    from core.data.cache import decode_files
    from core.data.folder import DatasetError, scan_folder_splits

    root = Path(root).expanduser()
    try:
        found = scan_folder_splits(root, 0.0, 0, apply_corrections=corrections)
    except DatasetError as exc:
        raise EvaluationError(str(exc)) from None
    samples = found.train + found.val
    images, errors = decode_files([p for p, _ in samples], image_size, True, progress=progress)
    good = [i for i in range(len(samples)) if i not in errors]
    if len(good) < 2:
        raise EvaluationError(f"{root}: fewer than two readable images")
    return LabelledImages(root, list(found.classes), [samples[i][0] for i in good],
                          np.array([samples[i][1] for i in good], dtype=np.int64),
                          torch.stack([images[i] for i in good]),
                          [(str(samples[i][0]), r) for i, r in sorted(errors.items())])


def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """fold index per image; each class dealt round-robin after a seeded shuffle, so folds are balanced."""
    rng = np.random.default_rng(seed)
    fold_of = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rng.shuffle(members)
        fold_of[members] = np.arange(len(members)) % folds
    return fold_of


class _Steer(Callback):
    """Reports a fold's training on the pass's bar and stops it (after the batch) once cancelled."""

    def __init__(self, progress: Progress, fold: int, folds: int):
        self.progress, self.fold, self.folds = progress, fold, folds
        self.cancelled = False

    def on_batch_end(self, run: RunView, report: BatchReport) -> None:
        if self.progress.cancelled():
            self.cancelled = True
            run.stop()
        done = (self.fold + report.run_fraction) / self.folds
        self.progress.update(round(1000 * done), 1000,
                             f"fold {self.fold + 1}/{self.folds}, epoch {report.epoch}/{report.epochs}")


def out_of_sample_probabilities(data: LabelledImages, *, model_name: str = "cnn", model_options: dict | None = None,
                                folds: int = 5, epochs: int = 12, batch_size: int = 32, lr: float = 3e-3,
                                seed: int = 0, device: str = "cpu", progress: Progress = NO_PROGRESS) -> np.ndarray:
    """[N, K] probabilities, each row from the fold model that did not train on that image."""
    folds = max(2, min(folds, int(np.bincount(data.labels).max())))
    size = data.images.shape[-1]
    x = data.images.float().div(255.0)
    mean = tuple(round(float(v), 4) for v in x.mean(dim=(0, 2, 3)))
    std = tuple(round(float(v), 4) for v in x.std(dim=(0, 2, 3)).clamp_min(1e-3))
    pre = Preprocess(image_size=size, channels=3, mean=mean, std=std)
    labels = torch.from_numpy(data.labels)
    fold_of = stratified_folds(data.labels, folds, seed)
    probs = np.zeros((len(data.labels), len(data.classes)), dtype=np.float32)
    spec = ModelSpec(model_name, len(data.classes), 3, size, dict(model_options or {}))
    for fold in range(folds):
        held = np.flatnonzero(fold_of == fold)
        kept = np.flatnonzero(fold_of != fold)
        train = ArrayDataset(data.images[kept], labels[kept], pre)
        val = ArrayDataset(data.images[held], labels[held], pre)
        bundle = DataBundle(train, val, list(data.classes), pre, DataSpec(name=str(data.root), image_size=size))
        torch.manual_seed(seed + fold)
        steer = _Steer(progress, fold, folds)
        config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed + fold, device=device,
                             evaluate_at_end=False, report_interval_s=0.0)
        trainer = Trainer(build_model(spec, load_weights=False), bundle, config, spec, [*guards(config), steer])
        trainer.fit()
        if steer.cancelled:
            raise Cancelled("cross-validation was cancelled")
        probs[held] = predict_probabilities(trainer.model, val, batch_size=256, device=trainer.device,
                                            progress=_cancel_only(progress))
    progress.update(1, 1, "done")
    return probs


def _cancel_only(progress: Progress) -> Progress:
    """The held-out prediction is short: it hears a cancel but leaves the fold's bar alone."""
    return Reporter(cancel=progress.cancelled)


__all__ = ["LabelledImages", "load_labelled_images", "stratified_folds", "out_of_sample_probabilities"]
