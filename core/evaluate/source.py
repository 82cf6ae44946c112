"""Which images an evaluation runs on: a checkpoint's own validation set, or any labelled folder and split.

The images are preprocessed with the checkpoint's own Preprocess (size, channels, normalisation measured on
its training data, the decode rule), never re-measured, so the numbers are those of the model as it was
trained, and equal to predict's and the inspector's for the same file (one pipeline, core.data.pipeline).
Folder files are decoded once with the data layer's threaded decoder; unreadable ones are listed and left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from core.checkpoints.checkpoint import Checkpoint
from core.data.build import build_data
from core.data.datasets import ArrayDataset, FileDataset
from core.data.folder import DatasetError, scan_folder_splits
from core.data.spec import DataSpec
from core.errors import LayerscopeError
from core.evaluate.images import MemoryImages
from core.progress import NO_PROGRESS, Progress

SPLITS = ("val", "train", "test", "all")
CACHE_LIMIT_MB = 1024.0  # decoded images kept in memory up to this size; beyond it they are re-read per batch


class EvaluationError(LayerscopeError):
    """An evaluation cannot run as asked; the message says what is wrong and what to do."""


@dataclass
class EvalData:
    dataset: Dataset  # yields (normalised tensor, label index in the checkpoint's classes)
    files: list[str]  # one name per item: a path, or "shapes:val/00012" for in-memory sets
    labels: list[int]
    source: str  # what was evaluated, for summary.json
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason), left out
    notes: list[str] = field(default_factory=list)
    images: MemoryImages | None = None  # pictures of in-memory items (their files are ids, not paths)


def _checkpoint_data_spec(ckpt: Checkpoint) -> DataSpec | None:
    saved = (ckpt.training_state or {}).get("data_spec")
    return DataSpec.from_dict(saved) if saved else None


def _rewrap(dataset, ckpt: Checkpoint) -> Dataset:
    """An in-memory set with the checkpoint's normalisation and no augmentation."""
    if isinstance(dataset, ArrayDataset):
        return ArrayDataset(dataset.images, dataset.labels, ckpt.preprocess)
    return dataset


def eval_data(ckpt: Checkpoint, dataset: str | Path | None = None, split: str = "val",
              progress: Progress = NO_PROGRESS) -> EvalData:
    """The images to evaluate `ckpt` on. dataset None: the data it was trained on (its validation split)."""
    if split not in SPLITS:
        raise EvaluationError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    spec = _checkpoint_data_spec(ckpt)
    if dataset is None and spec is None:
        raise EvaluationError("this checkpoint does not say which data it was trained on; pass --dataset FOLDER")
    name = str(dataset) if dataset is not None else spec.name
    if name in ("shapes", "mnist", "fashion_mnist", "cifar10"):
        return _builtin_data(ckpt, spec or DataSpec(name=name), name, split)
    same_folder = spec is not None and spec.is_folder and Path(spec.name).expanduser().resolve() == Path(name).expanduser().resolve()
    # The training folder is split the way training split it (same fraction and seed), so "val" is the
    # held-out set the model never trained on.
    val_fraction, seed = (spec.val_fraction, spec.seed) if same_folder else (0.2, 0)
    return _folder_data(ckpt, Path(name), split, val_fraction, seed, progress)


def _builtin_data(ckpt: Checkpoint, spec: DataSpec, name: str, split: str) -> EvalData:
    if name != spec.name:
        spec = DataSpec(name=name, image_size=ckpt.preprocess.image_size)
    bundle = build_data(spec)
    if list(bundle.classes) != list(ckpt.classes):
        raise EvaluationError(f"{name}: its classes {bundle.classes} differ from the checkpoint's {ckpt.classes}")
    parts = {"val": [("val", bundle.val)], "train": [("train", bundle.train)],
             "test": [("test", bundle.test)] if bundle.test is not None else [],
             "all": [("train", bundle.train), ("val", bundle.val)]}[split]
    if not parts:
        raise EvaluationError(f"{name} has no {split} split")
    datasets, files, labels, raw = [], [], [], {}
    for part, ds in parts:
        ds = _rewrap(ds, ckpt)
        if isinstance(ds, ArrayDataset):
            raw[f"{name}:{part}"] = ds.images  # the stored uint8 pictures, shared, not copied
        datasets.append(ds)
        part_labels = [int(v) for v in ds.labels]
        labels += part_labels
        files += [f"{name}:{part}/{i:05d}" for i in range(len(part_labels))]
    data = datasets[0] if len(datasets) == 1 else torch.utils.data.ConcatDataset(datasets)
    if not labels:
        raise EvaluationError(f"{name}: the {split} split is empty")
    return EvalData(data, files, labels, f"{name} ({split})", images=MemoryImages(raw))


def _folder_samples(root: Path, split: str, val_fraction: float, seed: int):
    try:
        found = scan_folder_splits(root, val_fraction, seed)
    except DatasetError as exc:
        raise EvaluationError(str(exc)) from None
    samples = {"val": found.val, "train": found.train, "test": found.test,
               "all": found.train + found.val + found.test}[split]
    return found, samples


def _folder_data(ckpt: Checkpoint, root: Path, split: str, val_fraction: float, seed: int,
                 progress: Progress) -> EvalData:
    from core.data.cache import decode_files, estimate_cache_mb

    found, samples = _folder_samples(root, split, val_fraction, seed)
    extra = [c for c in found.classes if c not in ckpt.classes]
    if extra:
        raise EvaluationError(
            f"{root}: has classes the model does not know: {', '.join(extra)} (the model's classes: "
            f"{', '.join(ckpt.classes)}); evaluate on a folder with the same class folders")
    missing = [c for c in ckpt.classes if c not in found.classes]
    notes = [f"classes with no folder here (not evaluated): {', '.join(missing)}"] if missing else []
    if not samples:
        raise EvaluationError(f"{root}: the {split} split has no images; pick another split (--split train/all)")
    to_model = [ckpt.classes.index(c) for c in found.classes]
    paths = [p for p, _ in samples]
    size = ckpt.preprocess.image_size
    keep = estimate_cache_mb(len(paths), size, True) <= CACHE_LIMIT_MB
    images, errors = decode_files(paths, size, True, rule=ckpt.preprocess.decode, progress=progress, keep=keep)
    good = [i for i in range(len(samples)) if i not in errors]
    unreadable = [(str(paths[i]), reason) for i, reason in sorted(errors.items())]
    if not good:
        raise EvaluationError(f"{root}: none of the {len(samples)} images of the {split} split could be read "
                              f"(for example {unreadable[0][0]}: {unreadable[0][1]})")
    labels = [to_model[samples[i][1]] for i in good]
    if keep:
        stacked = torch.stack([images[i] for i in good])
        data: Dataset = ArrayDataset(stacked, torch.tensor(labels), ckpt.preprocess)
    else:
        data = FileDataset([(paths[i], labels[k]) for k, i in enumerate(good)], ckpt.preprocess)
    return EvalData(data, [str(paths[i]) for i in good], labels, f"{root} ({split})", unreadable, notes)
