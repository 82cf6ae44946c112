"""Add one image to a folder dataset as a chosen class: a copy into that class's folder, never an overwrite.

Used by the inspector's "Add to dataset…" (an image the model got wrong becomes training data). The built-in
sets (shapes, mnist, cifar) are generated or downloaded, so they cannot take new images; the message says so.
A folder with split folders (train/, val/) gets the image in its training split.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.catalog import is_folder_dataset
from core.data.folder import SPLIT_ALIASES, DatasetError, class_folders
from core.io.atomic import write_new_file
from core.io.images import IMAGE_EXTENSIONS, ImageLoadError, read_image_bytes

MAX_TRIES = 10_000


def _split_and_root(dataset: str | Path) -> tuple[Path, tuple[str, ...]]:
    """(the dataset folder, the split folder under it that takes new images: () or ("train",))."""
    name = str(dataset or "").strip()
    if not name:
        raise DatasetError("no dataset is chosen; pick an image folder in the Data tab first")
    if not is_folder_dataset(name):
        raise DatasetError(f"'{name}' is a built-in dataset: images can only be added to an image folder "
                           "(one sub-folder per class); pick one in the Data tab")
    root = Path(name).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: the dataset folder does not exist (moved or deleted?)")
    for alias in SPLIT_ALIASES["train"]:
        if (root / alias).is_dir():
            return root, (alias,)
    return root, ()


def class_root(dataset: str | Path) -> Path:
    """The folder whose sub-folders are the classes new images go to (the training split when there is one)."""
    root, split = _split_and_root(dataset)
    return root.joinpath(*split)


def dataset_classes(dataset: str | Path) -> list[str]:
    return [p.name for p in class_folders(class_root(dataset))]


def add_image(dataset: str | Path, class_name: str, *, path: str | Path | None = None, data: bytes | None = None,
              name: str = "added.png") -> Path:
    """Copy the image file `path` (or the encoded bytes `data`, saved as `name`) into `class_name`'s folder.
    Returns the new file. Never overwrites: 'x.png' exists -> 'x-1.png'. Raises DatasetError with the reason."""
    root, split = _split_and_root(dataset)
    classes = [p.name for p in class_folders(root.joinpath(*split))]
    if class_name not in classes:
        raise DatasetError(f"{root.joinpath(*split)}: there is no class folder '{class_name}' (the classes: "
                           f"{', '.join(classes)})")
    if path is not None:
        try:  # the one safe reader: a FIFO or a link to /dev/zero cannot hang or fill memory
            data = read_image_bytes(path)
        except ImageLoadError as exc:
            raise DatasetError(f"{path}: cannot read the image ({exc.reason})") from None
        name = Path(path).name
    if not data:
        raise DatasetError(f"{name}: there is no image data to add")
    stem, suffix = os.path.splitext(Path(name).name)
    if suffix.lower() not in IMAGE_EXTENSIONS:
        stem, suffix = stem + suffix, ".png"  # a name the data layer will pick up as an image
    for n in range(MAX_TRIES):
        file_name = f"{stem}{suffix}" if n == 0 else f"{stem}-{n}{suffix}"
        try:  # created exclusively, never through a linked split or class folder (core.io.atomic)
            return write_new_file(root, (*split, class_name, file_name), data)
        except FileExistsError:
            continue
        except OSError as exc:
            raise DatasetError(f"{exc.filename or root}: cannot write the copy ({exc.strerror or exc})") from None
    raise DatasetError(f"{root.joinpath(*split, class_name)}: too many files named like {stem}{suffix}; rename "
                       "the image first")
