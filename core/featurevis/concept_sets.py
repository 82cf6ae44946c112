"""The pictures a concept test needs, in the model's own preprocessing. Every run of the test draws fresh
pictures on both sides (a new sample of the concept and a new random set), so the spread of the scores
measures how much the answer depends on which pictures were picked:

- concepts the app draws (concept_images.py): new pictures every run;
- concepts the user gives as a folder of images (read through the one safe loader; unreadable files are
  listed and left out): a different subset every run;
- random counterexamples of the concept's own kind: drawn pictures of the other kinds for a drawn concept
  (never its own kind: stripes against a pool of stripes teaches nothing), dataset images for a folder;
- the images of the class being explained.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from core.errors import LayerscopeError
from core.data.pipeline import match_channels, model_input
from core.data.transforms import Preprocess
from core.featurevis import concept_images
from core.io.images import ImageLoadError, is_image_path

MAX_FOLDER_IMAGES = 200  # a concept needs tens of examples; a huge folder is sampled, not read whole
MIN_CONCEPT_IMAGES = 5
SUBSET_SHARE = 0.8  # a folder smaller than runs x count gives each run this share of its images
DRAWN = "generated"


class ConceptError(LayerscopeError, ValueError):
    """A concept or class that cannot be tested as asked; the message says why and what to do."""


@dataclass
class ConceptSet:
    """A concept (or a pool of random pictures): `sample(run)` gives that run's pictures, normalised
    [N, C, S, S]. `kind`: the drawn family ('stripes', 'dots', ...) or None for a folder or the dataset."""

    name: str  # shown in the table
    origin: str  # DRAWN, a folder path, or "random"
    sample: Callable[[int], torch.Tensor]
    count: int  # pictures per run
    kind: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) left out of a folder


def normalise_uint8(pictures: np.ndarray, pre: Preprocess) -> torch.Tensor:
    """uint8 [N, H, W, 3] at the model's size -> normalised [N, C, H, W] (luma for a 1-channel model)."""
    x = torch.from_numpy(np.ascontiguousarray(pictures)).permute(0, 3, 1, 2)
    x = torch.stack([match_channels(t, pre.channels) for t in x]).float().div_(255.0)
    mean = torch.tensor(pre.mean[:pre.channels]).view(1, -1, 1, 1)
    std = torch.tensor(pre.std[:pre.channels]).view(1, -1, 1, 1)
    return (x - mean) / std


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:4], "little")


def drawn_set(name: str, count: int, pre: Preprocess, seed: int = 0) -> ConceptSet:
    def sample(run: int) -> torch.Tensor:
        return normalise_uint8(concept_images.generate(name, count, pre.image_size, _seed(seed, name, run)), pre)

    if not concept_images.is_generated(name):
        raise ConceptError(f"no built-in concept {name!r}; {concept_images.NAMES_HELP}")
    return ConceptSet(name, DRAWN, sample, count, concept_images.kind_of(name))


def folder_set(folder: str | Path, count: int, pre: Preprocess, seed: int = 0) -> ConceptSet:
    """The images directly in `folder` (not its sub-folders), each read through core.io.images."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConceptError(f"{folder}: not a folder of concept images")
    files = sorted(p for p in folder.iterdir() if is_image_path(p))
    if len(files) > MAX_FOLDER_IMAGES:
        keep = np.random.default_rng(_seed(seed, folder.name)).choice(len(files), MAX_FOLDER_IMAGES, replace=False)
        files = [files[i] for i in sorted(keep)]
    tensors, skipped = [], []
    for path in files:
        try:
            tensors.append(model_input(path, pre))  # the one pipeline, as every other image the model sees
        except ImageLoadError as exc:
            skipped.append((str(path), exc.reason))
    if len(tensors) < MIN_CONCEPT_IMAGES:
        raise ConceptError(f"{folder}: {len(tensors)} readable images; a concept needs at least "
                           f"{MIN_CONCEPT_IMAGES} (tens are better)")
    images = torch.stack(tensors)
    return ConceptSet(folder.name, str(folder), _subsets(images, count, _seed(seed, folder)),
                      min(count, len(images)), None, skipped)


def _subsets(images: torch.Tensor, count: int, seed: int) -> Callable[[int], torch.Tensor]:
    """Each run a different subset: `count` images, or SUBSET_SHARE of a smaller set."""
    size = min(count, max(MIN_CONCEPT_IMAGES, int(SUBSET_SHARE * len(images))), len(images))

    def sample(run: int) -> torch.Tensor:
        picked = np.random.default_rng([seed, run]).choice(len(images), size, replace=False)
        return images[torch.as_tensor(np.sort(picked))]

    return sample


def concept_set(spec: str | Path, count: int, pre: Preprocess, seed: int = 0) -> ConceptSet:
    """A built-in concept by name (see concept_images) or a folder of images."""
    if isinstance(spec, str) and concept_images.is_generated(spec):
        return drawn_set(spec, count, pre, seed)
    if Path(spec).is_dir():
        return folder_set(spec, count, pre, seed)
    raise ConceptError(f"{spec}: neither a folder of images nor a built-in concept ({concept_images.NAMES_HELP})")


def drawn_random_pool(exclude_kind: str | None, count: int, pre: Preprocess, seed: int = 0) -> ConceptSet:
    """Random drawn pictures of every built-in kind but `exclude_kind`, in random proportions per run."""
    kinds = [k for k in concept_images.DEFAULT_CONCEPTS if k != exclude_kind]

    def sample(run: int) -> torch.Tensor:
        rng = np.random.default_rng(_seed(seed, "random", exclude_kind, run))
        counts = rng.multinomial(count, [1 / len(kinds)] * len(kinds))
        pictures = np.concatenate([concept_images.generate(k, int(n), pre.image_size, _seed(seed, k, run, "r"))
                                   for k, n in zip(kinds, counts) if n])
        return normalise_uint8(pictures[rng.permutation(count)], pre)

    return ConceptSet(f"random pictures (no {exclude_kind})", "random", sample, count, None)


def dataset_random_pool(dataset: Dataset, count: int, seed: int = 0) -> ConceptSet:
    """Random dataset images: the counterexamples of concepts given as images."""
    size = min(count, len(dataset))

    def sample(run: int) -> torch.Tensor:
        picked = np.random.default_rng(_seed(seed, "dataset", run)).choice(len(dataset), size, replace=False)
        return torch.stack([dataset[int(i)][0] for i in picked])

    return ConceptSet("random dataset images", "random", sample, size, None)


def labels_of(dataset: Dataset) -> list[int]:
    labels = getattr(dataset, "labels", None)
    if labels is not None:
        return [int(v) for v in labels]
    return [int(dataset[i][1]) for i in range(len(dataset))]


def class_images(dataset: Dataset, labels: list[int], class_index: int, count: int, seed: int = 0) -> torch.Tensor:
    """Up to `count` images of one class, drawn without replacement (seeded)."""
    rows = [i for i, label in enumerate(labels) if label == class_index]
    if not rows:
        raise ConceptError("the dataset has no images of this class")
    picked = np.random.default_rng(_seed(seed, "class", class_index)).permutation(rows)[:count]
    return torch.stack([dataset[int(i)][0] for i in picked])
