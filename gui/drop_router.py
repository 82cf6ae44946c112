"""What a drop (or a command line) holds, decided in one place: a dataset folder, a checkpoint, a folder of
plain images (nothing to train on: they are classified), or images (files and http(s) URLs) to inspect. Plain Python over paths; the
main window only acts on the plan.

    plan = plan_drop(paths_from_mime(event.mimeData()))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CHECKPOINT_SUFFIXES = (".pt", ".pth")


def is_url(text: str) -> bool:
    return str(text).lower().startswith(("http://", "https://"))


def accepts_drop(mime) -> bool:
    """File or web URLs, or image data itself (some programs drag pixels without a file)."""
    return mime.hasUrls() or mime.hasImage()


def paths_from_mime(mime) -> list[str]:
    """Local files as paths, and http(s) URLs (images dragged from a browser); other URLs are left out."""
    return [url.toLocalFile() if url.isLocalFile() else url.toString() for url in mime.urls()
            if url.isLocalFile() or url.scheme() in ("http", "https")]


def looks_like_dataset(path: str | Path) -> bool:
    """A folder with at least one sub-folder (class folders, or train/ and val/)."""
    path = Path(path)
    try:
        return path.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())
    except OSError:
        return False


@dataclass
class DropPlan:
    dataset_folder: str | None = None  # opens in the Data tab (the last one, if several)
    checkpoint: str | None = None  # opens into the hub (the last one, if several)
    other_checkpoints: list[str] = field(default_factory=list)  # dropped with it, not opened
    plain_folders: list[str] = field(default_factory=list)  # no class sub-folders: its images are classified
    images: list[str] = field(default_factory=list)  # to the Inspect tab (anything else gets "not an image")


def plan_drop(paths: list[str]) -> DropPlan:
    plan = DropPlan()
    checkpoints = []
    for item in paths:
        if is_url(item):
            plan.images.append(item)
        elif looks_like_dataset(item):
            plan.dataset_folder = item
        elif Path(item).is_dir():
            plan.plain_folders.append(item)
        elif Path(item).suffix.lower() in CHECKPOINT_SUFFIXES:
            checkpoints.append(item)
        else:
            plan.images.append(item)
    if checkpoints:
        plan.checkpoint, plan.other_checkpoints = checkpoints[-1], checkpoints[:-1]
    return plan
