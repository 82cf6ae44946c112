"""Pictures and their sanity numbers on disk: one folder per (weights, layer, settings), with pictures.npz (what
is read back), sanity.json and one PNG per unit (the whole picture) plus a mosaic of the parts each unit
looks at (what people look at).

The cache of a checkpoint lives under a folder named by its weights' checksum (core.checkpoints.schema), so
pictures of other weights are never shown for these; inside, the folder name and the file's own header both
carry the layer and a key of the settings, and a file whose header disagrees with what is asked is ignored
and rewritten. Files may come from a shared folder: read through the one safe reader with a size cap, never
unpickled (np.load(allow_pickle=False)), every field and shape checked.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import LayerscopeError
from core.featurevis.pictures import UnitPicture, VisResult
from core.io.atomic import atomic_write, write_text_atomic
from core.io.safefile import FileRefused, read_regular_file

PICTURES_FILE, SANITY_FILE, MOSAIC_FILE = "pictures.npz", "sanity.json", "mosaic.png"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_PICTURES = 8192
MOSAIC_TILE_PX = 64  # small pictures are enlarged (nearest) to at least this in the mosaic


class StoreError(LayerscopeError):
    """A pictures file cannot be used; the message names it and says why."""


def layer_id(layer: str) -> str:
    """A file-name-safe form of a layer name ('features.0' stays; anything odd is replaced and hashed)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", layer)[:80]
    if safe != layer or safe.startswith("."):
        safe = f"{safe.lstrip('.')}-{hashlib.sha256(layer.encode()).hexdigest()[:8]}"
    return safe


def cache_folder(root: str | Path, weights_checksum: str, layer: str, settings_key: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", weights_checksum):
        raise ValueError(f"not a weights checksum: {weights_checksum!r}")
    return Path(root) / weights_checksum / f"{layer_id(layer)}.{settings_key}"


def picture_file_name(picture: UnitPicture, kind: str) -> str:
    if kind == "output":
        return f"class-{picture.unit:03d}-{re.sub(r'[^A-Za-z0-9_-]', '_', picture.label)[:40]}.png"
    return f"unit-{picture.unit:04d}.png"


def save_result(result: VisResult, folder: str | Path) -> list[Path]:
    """pictures.npz + sanity.json + one PNG per unit + mosaic.png, each written atomically."""
    folder = Path(folder)
    images = np.stack([p.image for p in result.pictures]) if result.pictures else \
        np.zeros((0, result.image_size, result.image_size, result.channels), np.uint8)
    header = {"format_version": FORMAT_VERSION, **result.header()}
    arrays = {"images": images, "header": np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)}
    written = [_write_bytes(folder / PICTURES_FILE, _npz_bytes(arrays)),
               write_text_atomic(folder / SANITY_FILE, json.dumps(header, indent=1))]
    for picture in result.pictures:
        written.append(_write_bytes(folder / picture_file_name(picture, result.kind), _png_bytes(picture.image)))
    if result.pictures:
        crops = [field_crop(p) for p in result.pictures]
        written.append(_write_bytes(folder / MOSAIC_FILE, _png_bytes(mosaic(crops))))
    return written


def load_result(folder: str | Path, expect: dict | None = None) -> VisResult | None:
    """The result saved in `folder`, or None when there is none or it is for something else than `expect`
    (keys of the header: weights_checksum, layer, settings_key, image_size, channels). StoreError when the
    file is damaged."""
    path = Path(folder) / PICTURES_FILE
    if not path.exists():
        return None
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except FileRefused as exc:
        raise StoreError(f"{path}: {exc.reason}") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            header = json.loads(bytes(npz["header"]).decode("utf-8"))
            images = npz["images"]
    except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise StoreError(f"{path}: not a readable pictures file ({exc}); delete it to compute again") from None
    if not isinstance(header, dict):
        raise StoreError(f"{path}: its header is not a table")
    if any(header.get(k) != v for k, v in (expect or {}).items()):
        return None  # stale: other weights, layer, settings or input size
    try:
        return _result_from(header, images)
    except (TypeError, ValueError, KeyError) as exc:
        raise StoreError(f"{path}: damaged or edited ({exc}); delete it to compute again") from None


def _result_from(header: dict, images: np.ndarray) -> VisResult:
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"format_version {header.get('format_version')!r} is not {FORMAT_VERSION}")
    size, channels = _int(header["image_size"], 1, 4096), _int(header["channels"], 1, 4)
    records = header["units"]
    if not isinstance(records, list) or len(records) > MAX_PICTURES:
        raise ValueError(f"units should be a list of at most {MAX_PICTURES} records")
    if images.dtype != np.uint8 or images.shape != (len(records), size, size, channels):
        raise ValueError(f"images are {images.dtype} {images.shape}, expected uint8 "
                         f"{(len(records), size, size, channels)}")
    pictures = [_picture_from(record, images[i]) for i, record in enumerate(records)]
    if len({p.unit for p in pictures}) != len(pictures):
        raise ValueError("a unit appears twice")
    return VisResult(str(header["layer"]), str(header["kind"]), str(header["weights_checksum"]),
                     dict(header["settings"]), str(header["settings_key"]), size, channels, pictures,
                     _optional_str(header.get("real_source")), [str(n) for n in header.get("notes", [])])


def _picture_from(record: dict, image: np.ndarray) -> UnitPicture:
    if not isinstance(record, dict):
        raise ValueError("a unit record is not a table")
    return UnitPicture(
        unit=_int(record["unit"], 0, 10**7), label=str(record["label"])[:200], image=np.array(image),
        activation=_number(record["activation"], allow_none=False),
        position=_int_tuple(record.get("position"), 2), field_box=_int_tuple(record.get("field_box"), 4),
        real_activation=_number(record.get("real_activation")),
        real_index=None if record.get("real_index") is None else _int(record["real_index"], -1, 10**9),
        ratio=_number(record.get("ratio")), weight_correlation=_number(record.get("weight_correlation")),
        class_probability=_number(record.get("class_probability")),
        predicted_class=_optional_str(record.get("predicted_class")))


def _int(value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{value!r} is not a whole number from {low} to {high}")
    return value


def _number(value, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return float(value)


def _int_tuple(value, length: int) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != length:
        raise ValueError(f"{value!r} is not {length} whole numbers")
    return tuple(_int(v, -1, 10**6) for v in value)


def _optional_str(value) -> str | None:
    return None if value is None else str(value)[:1000]


def field_crop(picture: UnitPicture, context: float = 0.5) -> np.ndarray:
    """The part of a picture its unit looks at (the field of its strongest position, `context` of its size
    added each side), as the Dossier crops real images; the whole picture when there is no field."""
    if picture.field_box is None:
        return picture.image
    top, left, bottom, right = picture.field_box
    h, w = picture.image.shape[:2]
    pad_y, pad_x = round(context * (bottom - top)), round(context * (right - left))
    return picture.image[max(0, top - pad_y):min(h, bottom + pad_y), max(0, left - pad_x):min(w, right + pad_x)]


def mosaic(images, gap: int = 2) -> np.ndarray:
    """uint8 [H, W, C] pictures (any sizes) -> one RGB grid, near square, each enlarged (nearest) to fill a
    tile of about MOSAIC_TILE_PX."""
    side = max(MOSAIC_TILE_PX, max(max(i.shape[:2]) for i in images))
    tiles = []
    for image in images:
        zoom = max(1, side // max(image.shape[:2]))
        tile = image.repeat(zoom, axis=0).repeat(zoom, axis=1)
        tiles.append(tile.repeat(3, axis=2) if tile.shape[2] == 1 else tile[:, :, :3])
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    grid = np.full((rows * (side + gap) - gap, cols * (side + gap) - gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, k = divmod(i, cols)
        th, tw = min(side, tile.shape[0]), min(side, tile.shape[1])
        y, x = r * (side + gap) + (side - th) // 2, k * (side + gap) + (side - tw) // 2
        grid[y:y + th, x:x + tw] = tile[:th, :tw]
    return grid


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image).save(buffer, "PNG")
    return buffer.getvalue()


def _write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))
