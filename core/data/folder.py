"""Image folders: one sub-folder per class; train/val(/test) split folders used when present, else a
stratified split.

Split folders are recognised by name: train or training; val, valid or validation (the first of these that
exists is the validation split); test or testing (kept aside, never trained on). Tool folders (__MACOSX,
.git, .ipynb_checkpoints, any hidden folder, ...) are never classes. Decisions the layout forces (a class
only in val/, an empty val/) are not silent: they come back as `notes`, which the health report and
`train` show.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import LayerscopeError
from core.io.images import is_image_path
from core.io.safefile import entry_problem


class DatasetError(LayerscopeError):
    """A dataset cannot be used as given; the message says what is wrong and what to do."""


SPLIT_ALIASES = {"train": ("train", "training"), "val": ("val", "valid", "validation"), "test": ("test", "testing")}
VAL_ALIASES = SPLIT_ALIASES["val"]
# macOS zip resource forks, Python / Jupyter caches, Synology thumbnails, Windows recycle bins and indexes.
TOOL_FOLDERS = frozenset({"__MACOSX", "__pycache__", "@eaDir", "$RECYCLE.BIN", "System Volume Information",
                          "lost+found", "node_modules"})


def is_tool_folder(name: str) -> bool:
    """Hidden and tool folders: never a class, never searched for images."""
    return name.startswith(".") or name in TOOL_FOLDERS


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _children(root: Path) -> list[Path]:
    try:
        return sorted(root.iterdir())
    except OSError:
        return []


def class_folders(root: Path) -> list[Path]:
    """The class folders of `root`: its sub-folders, tool folders left out."""
    return [p for p in _children(root) if not is_tool_folder(p.name) and _is_dir(p)]


@dataclass
class Skipped:
    """An entry named like an image that is not used, and why (a FIFO, a link loop, a folder named x.jpg)."""

    path: str
    kind: str
    reason: str


@dataclass
class FolderFiles:
    images: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    other_files: list[Path] = field(default_factory=list)  # no image extension: never used


def walk_class_folder(folder: Path) -> FolderFiles:
    """Every image file under `folder` (sub-folders included, tool folders left out). Entries named like an
    image that are not regular files are listed as skipped, judged by type only: nothing is opened here."""
    out = FolderFiles()

    def unreadable(exc: OSError):
        out.skipped.append(Skipped(str(exc.filename or folder), "unreadable",
                                   f"the folder cannot be read ({exc.strerror or exc})"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable):
        here = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            if is_tool_folder(name):
                continue
            if is_image_path(name):  # a folder named like an image is listed, never searched
                out.skipped.append(Skipped(str(here / name), "folder", "a folder named like an image file"))
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = here / name
            if name.startswith("."):  # ._x.jpg AppleDouble files and other hidden files
                continue
            if not is_image_path(name):
                out.other_files.append(path)
                continue
            problem = entry_problem(path)
            if problem is None:
                out.images.append(path)
            else:
                out.skipped.append(Skipped(str(path), *problem))
    out.images.sort()
    return out


def list_images(folder: Path) -> list[Path]:
    return walk_class_folder(folder).images


def _samples(root: Path, classes: list[str], skipped: list[Skipped] | None = None) -> list[tuple[Path, int]]:
    out = []
    for idx, name in enumerate(classes):
        folder = root / name
        if _is_dir(folder):
            files = walk_class_folder(folder)
            out += [(p, idx) for p in files.images]
            if skipped is not None:
                skipped += files.skipped
    return out


def find_split_folders(root: Path) -> dict[str, Path]:
    """{'train': ..., 'val': ..., 'test': ...} by folder name (see SPLIT_ALIASES); {} without a train folder."""
    by_name = {}
    for p in class_folders(root):
        by_name.setdefault(p.name.lower(), p)
    found = {}
    for split, aliases in SPLIT_ALIASES.items():
        match = next((by_name[a] for a in aliases if a in by_name), None)
        if match is not None:
            found[split] = match
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
    skipped: list[Skipped] = field(default_factory=list)  # named like images, but not regular files
    notes: list[str] = field(default_factory=list)  # layout problems and what is done about them
    ignored_folders: list[str] = field(default_factory=list)  # tool folders at the top (__MACOSX, .git, ...)
    unused: list[str] = field(default_factory=list)  # other folders and image files the layout leaves out, why


def scan_image_folder(root: Path, val_fraction: float = 0.2, seed: int = 0):
    """-> (classes, train samples, val samples). Raises DatasetError with a clear message."""
    found = scan_folder_splits(root, val_fraction, seed)
    return found.classes, found.train, found.val


def scan_folder_splits(root: Path, val_fraction: float = 0.2, seed: int = 0,
                       apply_corrections: bool = True) -> FolderSplits:
    """Like scan_image_folder, plus the files of a test folder when there is one (kept aside, never trained
    on), the skipped entries and the layout notes. The dataset's label corrections (core.data.corrections) are
    applied unless `apply_corrections` is False."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: the folder does not exist")
    if not _is_dir(root):
        raise DatasetError(f"{root}: this is a file; a dataset is a folder with one sub-folder per class")
    splits = find_split_folders(root)
    skipped: list[Skipped] = []
    notes: list[str] = []
    if splits:
        train_dir = splits["train"]
        classes = [p.name for p in class_folders(train_dir)]
        train = _samples(train_dir, classes, skipped)
        if "val" in splits:
            val_dir = splits["val"]
            notes += _classes_only_in(val_dir, train_dir, classes)
            val = _samples(val_dir, classes, skipped)
            if not val and train:
                train, val = stratified_split(train, val_fraction, seed)
                notes.append(f"{val_dir.name}/ has no images of the training classes: {val_fraction * 100:g} % "
                             f"of {train_dir.name}/ is held out for validation instead")
        else:
            train, val = stratified_split(train, val_fraction, seed)
    else:
        classes = [p.name for p in class_folders(root)]
        train, val = stratified_split(_samples(root, classes, skipped), val_fraction, seed)
    if len(classes) < 2:
        raise DatasetError(
            f"{root}: found {len(classes)} class folder(s); put the images of each class in its own "
            "sub-folder (for example cats/ and dogs/), at least two classes")
    if not train:
        raise DatasetError(f"{root}: no image files found in the class folders ({', '.join(classes)})")
    test = _samples(splits["test"], classes, skipped) if "test" in splits else []
    ignored = [str(p) for p in _children(root) if is_tool_folder(p.name) and _is_dir(p)]
    unused, unused_notes = _unused_entries(root, splits)
    found = FolderSplits(classes, train, val, test, skipped, notes + unused_notes, ignored, unused)
    if apply_corrections:
        from core.data.corrections import apply_to_splits

        apply_to_splits(found, root)
    return found


def _classes_only_in(val_dir: Path, train_dir: Path, classes: list[str]) -> list[str]:
    """A class with validation images but no training folder cannot be learnt: it is left out, said aloud."""
    notes = []
    for folder in class_folders(val_dir):
        if folder.name not in classes:
            count = len(walk_class_folder(folder).images)
            notes.append(f"class '{folder.name}' is only in {val_dir.name}/ ({count} images), not in "
                         f"{train_dir.name}/: left out; add its training images to {train_dir.name}/{folder.name}/")
    return notes


def _loose_images(folder: Path) -> list[Path]:
    """Image files directly in `folder`, outside any class folder."""
    return [p for p in _children(folder) if is_image_path(p.name) and not p.name.startswith(".") and not _is_dir(p)]


def _unused_entries(root: Path, splits: dict[str, Path]) -> tuple[list[str], list[str]]:
    """What the layout leaves out besides tool folders: folders beside the split folders (a `loose/` next to
    train/ and val/, a second validation folder) and image files outside any class folder. -> (entries with
    the reason, notes for the ones that hold images)."""
    entries, notes = [], []
    if splits:
        used = set(splits.values())
        names = "/, ".join(p.name for p in splits.values()) + "/"
        for folder in (p for p in class_folders(root) if p not in used):
            count = len(walk_class_folder(folder).images)
            entries.append(f"{folder}/ (beside {names}: not a split folder, not used)")
            if count:
                images = "1 image is" if count == 1 else f"{count} images are"
                notes.append(f"{folder.name}/ is beside {names}, not inside them: its {images} not used "
                             f"(only train/, val/ and test/ and their aliases are read); move them into class "
                             f"folders under {splits['train'].name}/ to train on them")
    for folder in [root, *splits.values()]:
        loose = _loose_images(folder)
        entries += [f"{p} (not in a class folder, not used)" for p in loose]
        if loose:
            where = "the dataset folder" if folder == root else f"{folder.name}/"
            files = "1 image file lies" if len(loose) == 1 else f"{len(loose)} image files lie"
            notes.append(f"{files} directly in {where}, outside any class folder: not used; move "
                         f"{'it' if len(loose) == 1 else 'them'} into the folder of {'its' if len(loose) == 1 else 'their'} class")
    return entries, notes
