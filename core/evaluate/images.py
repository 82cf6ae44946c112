"""Pictures of the in-memory datasets' items (shapes, mnist, cifar), addressable by their evaluation id.

An evaluation names such an item "shapes:val/00012" (there is no file). The store keeps the stored uint8
images the evaluation already held in memory (no copy) and turns an id into a small PNG on demand, so the
gallery can show it and the inspector can open it like any file. A saved evaluation writes every item as
RUN/eval/images/shapes_val_00012.png, so the folder is self-contained: reading it back needs neither the
generator's seed nor a cached download (regenerating would need both, and the same library versions).
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from core.io.atomic import atomic_write

IMAGES_DIR = "images"
_ID = re.compile(r"^(?P<set>[a-z0-9_]+):(?P<part>[a-z]+)/(?P<index>\d+)$")


def is_memory_id(name: str) -> bool:
    return bool(_ID.match(name))


def png_name(item_id: str) -> str:
    """'shapes:val/00012' -> 'shapes_val_00012.png' (a plain file name on every system)."""
    m = _ID.match(item_id)
    if m is None:
        raise ValueError(f"{item_id!r} is not an in-memory dataset item id (like 'shapes:val/00012')")
    return f"{m['set']}_{m['part']}_{m['index']}.png"


def to_hwc_uint8(image) -> np.ndarray:
    """A stored uint8 [C, H, W] tensor/array -> [H, W] or [H, W, 3] for PIL."""
    array = np.asarray(image.numpy() if hasattr(image, "numpy") else image, dtype=np.uint8)
    if array.ndim == 3 and array.shape[0] in (1, 3):
        array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
    return np.ascontiguousarray(array)


class MemoryImages:
    """id -> picture for the items of in-memory sets. parts: {"shapes:val": uint8 [N, C, H, W]}.
    folder: where PNGs are (a saved evaluation's images/) or get written on demand (else a new temporary one).
    roots: for an evaluation read from a folder, the folders its images may be opened from (the evaluation
    folder, its dataset); None for one made in this process, whose paths the data layer found itself."""

    def __init__(self, parts: dict | None = None, folder: str | Path | None = None,
                 roots: tuple[Path, ...] | None = None):
        self.parts = dict(parts or {})
        self.folder = Path(folder) if folder is not None else None
        self.roots = tuple(Path(r) for r in roots) if roots is not None else None

    def __bool__(self) -> bool:
        return bool(self.parts) or self.folder is not None

    def array(self, item_id: str) -> np.ndarray | None:
        m = _ID.match(item_id)
        images = self.parts.get(f"{m['set']}:{m['part']}") if m else None
        index = int(m["index"]) if m else -1
        if images is None or not 0 <= index < len(images):
            return None
        return to_hwc_uint8(images[index])

    def path(self, item_id: str) -> Path | None:
        """A PNG of the item (written now if needed), or None when the id is unknown here."""
        if not is_memory_id(item_id):
            return None
        if self.folder is None:  # an unsaved evaluation: its own folder, so no other run's picture is reused
            self.folder = Path(tempfile.mkdtemp(prefix="layerscope-eval-images-"))
        folder = self.folder
        target = folder / png_name(item_id)
        if target.is_file():
            return target
        array = self.array(item_id)
        if array is None:
            return None
        from PIL import Image

        picture = Image.fromarray(array)
        # A reader never sees half a file, and a shared evaluation's images/ (or a name in it) planted as a
        # link is refused, never written through (core.io.atomic).
        atomic_write(target, lambda fh: picture.save(fh, format="PNG"), inside=folder.parent, sync=False)
        return target

    def write_all(self, out: str | Path, ids: list[str], *, inside: str | Path | None = None) -> int:
        """Write every known id as out/images/NAME.png; -> how many were written. `inside`: as for
        core.io.atomic.atomic_write (default: `out`)."""
        from PIL import Image

        folder = Path(out) / IMAGES_DIR
        written = 0
        for item_id in ids:
            array = self.array(item_id) if is_memory_id(item_id) else None
            if array is None:
                continue
            picture = Image.fromarray(array)
            atomic_write(folder / png_name(item_id), lambda fh: picture.save(fh, format="PNG"),
                         inside=inside if inside is not None else out, sync=False)
            written += 1
        return written


def resolve_image(name: str, images: MemoryImages | None) -> str | None:
    """A per-image record's file -> a path that can be opened: files as they are, in-memory ids as a PNG.
    Returns `name` unchanged when it cannot be resolved (the caller then says it is not a file), and None
    when `images` confines the evaluation (one read from a folder) and `name` leads outside its roots."""
    if images and is_memory_id(name):
        path = images.path(name)
        if path is not None:
            return confined(str(path), images)
    return confined(name, images)


def confined(name: str, images: MemoryImages | None) -> str | None:
    """`name` when no roots confine it, or when it lies inside one of them (links resolved); else None."""
    roots = images.roots if images is not None else None
    if roots is None:
        return name
    from core.io.confine import ConfinementError, inside

    path = Path(name)
    for root in roots:
        try:
            if path.is_absolute():
                return str(inside(root, path.relative_to(root).as_posix()))
            candidate = inside(root, name)  # a relative name: the first root that holds it
        except (ValueError, ConfinementError):
            continue
        if candidate.exists():
            return str(candidate)
    return None
