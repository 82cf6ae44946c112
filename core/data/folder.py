"""Image folders: one sub-folder per class; `train/` and `val/` used when present, else a stratified split."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from core.imageio import is_image_path


class DatasetError(Exception):
    """A dataset cannot be used as given; the message says what is wrong and what to do."""


SPLIT_NAMES = ("train", "val", "test")
VAL_ALIASES = ("val", "valid", "validation")


def class_folders(root: Path) -> list[Path]:
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p) and not p.name.startswith("."))


def _samples(root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    out = []
    for idx, name in enumerate(classes):
        folder = root / name
        if folder.is_dir():
            out += [(p, idx) for p in list_images(folder)]
    return out


def find_split_folders(root: Path) -> dict[str, Path]:
    found = {}
    for child in root.iterdir() if root.is_dir() else []:
        name = child.name.lower()
        if child.is_dir() and name == "train":
            found["train"] = child
        elif child.is_dir() and name in VAL_ALIASES:
            found["val"] = child
        elif child.is_dir() and name == "test":
            found["test"] = child
    return found if "train" in found else {}


def stratified_split(samples: list[tuple[Path, int]], val_fraction: float, seed: int):
    """Per class, a seeded shuffle puts round(n * val_fraction) files (at least 1 if n > 1) in val."""
    by_class: dict[int, list[tuple[Path, int]]] = {}
    for s in samples:
        by_class.setdefault(s[1], []).append(s)
    rng = random.Random(seed)
    train, val = [], []
    for label in sorted(by_class):
        items = sorted(by_class[label], key=lambda s: str(s[0]))
        rng.shuffle(items)
        n_val = round(len(items) * val_fraction)
        if len(items) > 1 and val_fraction > 0:
            n_val = min(max(n_val, 1), len(items) - 1)
        val += items[:n_val]
        train += items[n_val:]
    return train, val


@dataclass
class FolderSplits:
    """The files of an image folder: class names and (path, label) samples per split (test may be empty)."""

    classes: list[str]
    train: list[tuple[Path, int]]
    val: list[tuple[Path, int]]
    test: list[tuple[Path, int]] = field(default_factory=list)


def scan_image_folder(root: Path, val_fraction: float = 0.2, seed: int = 0):
    """-> (classes, train samples, val samples). Raises DatasetError with a clear message."""
    found = scan_folder_splits(root, val_fraction, seed)
    return found.classes, found.train, found.val


def scan_folder_splits(root: Path, val_fraction: float = 0.2, seed: int = 0) -> FolderSplits:
    """Like scan_image_folder, plus the files of a `test/` folder when there is one (kept aside, never trained on)."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: the folder does not exist")
    if not root.is_dir():
        raise DatasetError(f"{root}: this is a file; a dataset is a folder with one sub-folder per class")
    splits = find_split_folders(root)
    if splits:
        classes = [p.name for p in class_folders(splits["train"])]
        train = _samples(splits["train"], classes)
        if "val" in splits:
            val = _samples(splits["val"], classes)
        else:
            train, val = stratified_split(train, val_fraction, seed)
    else:
        classes = [p.name for p in class_folders(root)]
        train, val = stratified_split(_samples(root, classes), val_fraction, seed)
    if len(classes) < 2:
        raise DatasetError(
            f"{root}: found {len(classes)} class folder(s); put the images of each class in its own "
            "sub-folder (for example cats/ and dogs/), at least two classes")
    if not train:
        raise DatasetError(f"{root}: no image files found in the class folders ({', '.join(classes)})")
    test = _samples(splits["test"], classes) if "test" in splits else []
    return FolderSplits(classes, train, val, test)
