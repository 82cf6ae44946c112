"""Decisions on pool photos, made on the dataset: a label copies the photo into DATASET/<class>/ (never over
an existing file: a taken name gets " (2)"; the original is never moved), skip and "none of these" copy
nothing, and every decision is a line of the labels log, so `undo_last` takes back the latest standing one
(removing its copy). "None of these" photos never reach a class folder, so they never enter training.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from core.errors import LayerscopeError
from core.io.atomic import naming
from core.io.images import is_image_path
from core.labelling import labels_log
from core.labelling.labels_log import ADDS_IMAGE


class LabellingError(LayerscopeError):
    """A label cannot be applied or undone; the message names the file and what to do."""


def _candidates(target: Path):
    yield target
    for i in range(2, 10_000):
        yield target.with_name(f"{target.stem} ({i}){target.suffix}")


def copy_exclusive(source: Path, target: Path) -> Path:
    """Copy `source` to `target` (or "name (2).ext", ...) without ever replacing a file: the bytes go to a
    temp file first (fsynced), then a hard link claims the name, which fails if the name is taken."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        for name in _candidates(target):
            try:
                os.link(tmp, name)
                return name
            except FileExistsError:
                continue
        raise LabellingError(f"{target.parent}: too many files named like {target.name}")
    except OSError as exc:
        raise naming(exc, target) from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _check_class_name(label: str) -> str:
    name = label.strip()
    if not name or name.startswith(".") or "/" in name or "\\" in name or name in ("..",):
        raise LabellingError(f"{label!r} cannot be a class folder name; use letters, digits, spaces or dashes")
    return name


def label_photo(dataset: str | os.PathLike, source: str | os.PathLike, label: str, *, accepted: bool = False) -> dict:
    """Copy the pool photo into DATASET/<label>/ (a new class makes its folder) and log it. accepted: the
    model's guess accepted in bulk ("accept"), not a human label."""
    dataset, source = Path(dataset).expanduser(), Path(source).expanduser()
    if not dataset.is_dir():
        raise LabellingError(f"{dataset}: the dataset folder is missing; choose the labelled dataset again")
    if not source.is_file() or not is_image_path(source):
        raise LabellingError(f"{source}: not an image file (was it moved or deleted?)")
    label = _check_class_name(label)
    new_class = not (dataset / label).is_dir()
    copy = copy_exclusive(source, dataset / label / source.name)
    return labels_log.append_entry(dataset, "accept" if accepted else "label", source=str(source), label=label,
                                   copy=str(copy.relative_to(dataset)), size=copy.stat().st_size,
                                   new_class=new_class)


def mark(dataset: str | os.PathLike, source: str | os.PathLike, action: str) -> dict:
    """skip (ask again later) or none ("none of these / do not use": never copied, never trained on)."""
    if action not in ("skip", "none"):
        raise ValueError(f"mark takes skip or none, not {action!r}")
    return labels_log.append_entry(dataset, action, source=str(Path(source).expanduser()))


def undo_last(dataset: str | os.PathLike) -> dict | None:
    """Take back the latest standing decision (its copy removed when it is still the file we wrote).
    None when there is nothing to undo."""
    dataset = Path(dataset).expanduser()
    state = labels_log.load_state(dataset)
    if not state.done:
        return None
    entry = state.done[-1]
    if entry["action"] in ADDS_IMAGE and entry.get("copy"):
        copy = dataset / entry["copy"]
        try:
            if copy.stat().st_size == entry.get("size", copy.stat().st_size):
                copy.unlink()
        except FileNotFoundError:
            pass  # already gone: the undo is still recorded
        except OSError as exc:
            raise LabellingError(f"{copy}: cannot remove the copy to undo its label ({exc.strerror})") from None
        if entry.get("new_class"):  # the class this label made goes with it (an empty folder would be a class)
            with contextlib.suppress(OSError):
                copy.parent.rmdir()  # only when empty
    labels_log.append_entry(dataset, "undo", undoes=entry["id"], source=entry.get("source"))
    return entry
