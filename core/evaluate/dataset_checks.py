"""Dataset problems a label-issue pass reports beside the ranked list: duplicates across classes, confounds.

Near duplicates use a 64-bit difference hash (dHash: is each pixel brighter than its right neighbour, on a
9x8 grayscale thumbnail), computed here in a few lines with PIL/numpy: `imagehash` is not a dependency and
this one hash is all that is needed. Two images of different classes at Hamming distance <= NEAR_BITS are
reported; identical file bytes are exact duplicates.

A confound is a class whose images share a file format, pixel size or aspect ratio that the other classes'
images do not: a network can learn that instead of the content, and the report says so and suggests a fix.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

NEAR_BITS = 4
CONFOUND_SHARE = 0.9  # at least this share of a class has the property ...
OTHERS_SHARE = 0.1  # ... and at most this share of the other classes' images


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


def _header(path: Path) -> tuple[str, tuple[int, int]] | None:
    """(format, (width, height)) from the file's header; None when it cannot be read."""
    try:
        with Image.open(path) as img:
            return str(img.format), img.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def find_confounds(files: list[Path], labels: list[int], classes: list[str]) -> list[str]:
    """Sentences naming each class whose images share a format, size or aspect ratio the others lack."""
    props: dict[str, list] = {"file format": [], "size": [], "aspect ratio": []}
    keep = []
    for i, path in enumerate(files):
        header = _header(path)
        if header is None:
            continue
        fmt, (w, h) = header
        props["file format"].append(fmt)
        props["size"].append(f"{w}x{h}")
        props["aspect ratio"].append(f"{w / max(h, 1):.2f}")
        keep.append(labels[i])
    keep_a = np.array(keep)
    findings = []
    for name, values in props.items():
        values_a = np.array(values, dtype=object)
        for c, cls in enumerate(classes):
            mine, others = values_a[keep_a == c], values_a[keep_a != c]
            if len(mine) < 3 or len(others) == 0:
                continue
            value, count = Counter(mine.tolist()).most_common(1)[0]
            other_share = float(np.mean(others == value))
            if count / len(mine) >= CONFOUND_SHARE and other_share <= OTHERS_SHARE:
                fix = {"file format": "convert all images to one format (e.g. PNG)",
                       "size": "resize all images to one size", "aspect ratio": "centre-crop all images square"}[name]
                findings.append(f"confound: {count}/{len(mine)} images of class '{cls}' have {name} {value}, "
                                f"{other_share:.0%} of the other classes do; a network can learn the {name} "
                                f"instead of the content: {fix}")
    return findings
