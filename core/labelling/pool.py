"""An unlabelled pool: a folder of images with no class sub-folders. `folder_kind` tells a pool from a
labelled dataset (class sub-folders) and says "unknown" when a folder holds both (the app then asks)."""
from __future__ import annotations

import os
from pathlib import Path

from core.data.folder import class_folders, is_tool_folder
from core.errors import LayerscopeError
from core.io.images import is_image_path

POOL, DATASET, UNKNOWN = "pool", "dataset", "unknown"


class PoolError(LayerscopeError):
    """A pool folder cannot be used; the message names it and what to do."""


def _loose_images(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if is_image_path(p) and p.is_file())
    except OSError:
        return []


def folder_kind(folder: str | os.PathLike) -> str:
    """POOL: images and no class folder holding images; DATASET: class folders with images and no loose
    images; UNKNOWN: both or neither."""
    folder = Path(folder)
    loose = bool(_loose_images(folder))
    classes = any(_loose_images(c) for c in class_folders(folder))
    if loose and not classes:
        return POOL
    if classes and not loose:
        return DATASET
    return UNKNOWN


def pool_images(folder: str | os.PathLike) -> list[Path]:
    """Every image file under `folder` (sub-folders too, hidden and tool folders left out), sorted."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise PoolError(f"{folder}: not a folder; choose the folder that holds the unlabelled photos")
    found = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not is_tool_folder(d))
        found += [Path(top) / f for f in files if is_image_path(f) and not f.startswith(".")]
    if not found:
        raise PoolError(f"{folder}: holds no images ({', '.join(['.png', '.jpg', '...'])}); "
                        "choose the folder of unlabelled photos")
    return sorted(found)
