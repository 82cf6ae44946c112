"""Dataset problems a label-issue pass reports beside the ranked list: duplicates across classes (confounds come
from core.data.confounds, the health report's own check).

Near duplicates use a 64-bit difference hash (dHash: is each pixel brighter than its right neighbour, on a
9x8 grayscale thumbnail), computed here in a few lines with PIL/numpy: `imagehash` is not a dependency and
this one hash is all that is needed. Two images of different classes at Hamming distance <= NEAR_BITS are
reported; identical file bytes are exact duplicates.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

NEAR_BITS = 4


def dhash(image: Image.Image) -> int:
    grey = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).flatten()
    return int(np.packbits(bits).view(">u8")[0])


@dataclass
class Duplicate:
    file_a: str
    label_a: str
    file_b: str
    label_b: str
    distance: int  # Hamming distance of the hashes; 0 with exact = True for identical bytes
    exact: bool


def cross_class_duplicates(files: list[Path], labels: list[int], classes: list[str], hashes: list[int],
                           near_bits: int = NEAR_BITS) -> list[Duplicate]:
    """Pairs of images with different labels whose hashes are within `near_bits` (all pairs, in blocks)."""
    h = np.array(hashes, dtype=np.uint64)
    labels_a = np.asarray(labels)
    out = []
    block = 512
    for start in range(0, len(h), block):
        xor = h[start:start + block, None] ^ h[None, :]
        distance = np.unpackbits(xor.view(np.uint8).reshape(*xor.shape, 8), axis=-1).sum(-1)
        rows, cols = np.nonzero(distance <= near_bits)
        for r, c in zip(rows + start, cols):
            if c > r and labels_a[r] != labels_a[c]:
                out.append((int(r), int(c), int(distance[r - start, c])))
    result = []
    for r, c, d in out:
        exact = d == 0 and _sha1(files[r]) == _sha1(files[c])
        result.append(Duplicate(str(files[r]), classes[labels[r]], str(files[c]), classes[labels[c]], d, exact))
    return sorted(result, key=lambda x: (not x.exact, x.distance))


def _sha1(path: Path) -> str | None:
    from core.io.images import ImageLoadError, read_image_bytes

    try:
        return hashlib.sha1(read_image_bytes(path)).hexdigest()
    except (ImageLoadError, OSError):
        return None
