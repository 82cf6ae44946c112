"""Safe image loading: the one function every path (training data, drops, CLI, inspector) goes through.

It turns any real-world file (grayscale, palette, RGBA, 16-bit, CMYK, EXIF-rotated, animated GIF, ...) into
a plain 8-bit RGB PIL image, or raises ImageLoadError naming the file and the reason. Nothing else escapes.
"""
from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import LayerscopeError
from core.io.safefile import FileRefused, read_regular_file

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)

# The one pixel limit (150 MP, about 12k x 12k), checked from the header before any pixel is decoded. Pillow's
# own guard is set to the same number, so no image between its default 89 MP and ours fails on another path.
DEFAULT_MAX_PIXELS = 150_000_000
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS
# A side longer than JPEG's and WebP's own maximum, or a strip longer than 100:1, is not a photo: resized so
# that its shorter side is the model's input size, a 1,000,000 x 1 PNG of 1 KB would ask for 12 GB.
MAX_SIDE = 65_535
MAX_ASPECT = 100
# Files above this size are refused before they are read at all.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024

Source = Union[str, os.PathLike, bytes]

# Pillow warns (UserWarning) about damaged metadata it then works around, such as corrupt EXIF or odd TIFF
# tags: the image still loads, so for Layerscope's users these are noise. A filter set once here, rather
# than inside catch_warnings() per call, because catch_warnings is not thread-safe and folders are decoded
# on several threads.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
# Images over the limit are refused with our own message right after the header is read (see check_size).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageLoadError(LayerscopeError):
    """An image could not be loaded. `path` names the file, `reason` says why in plain words, `kind` is a
    short tag: missing, dangling_link, symlink_loop, folder, not_regular, unreadable, file_too_big, empty,
    too_large (pixels), not_image, corrupt, no_memory."""

    def __init__(self, path: str, reason: str, kind: str = "corrupt"):
        self.path = str(path)
        self.reason = reason
        self.kind = kind
        super().__init__(f"{self.path}: {reason}")


def check_size(label: str, width: int, height: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Raise ImageLoadError (kind too_large) for a header whose pixels must not be decoded."""
    if width <= 0 or height <= 0:
        raise ImageLoadError(label, f"the image has no pixels ({width} x {height} px)", "corrupt")
    shown = f"{width} x {height} px"
    if width * height > max_pixels:
        raise ImageLoadError(label, f"too large ({shown}, limit {_megapixels(max_pixels)}); resize it first",
                             "too_large")
    if max(width, height) > MAX_SIDE:
        raise ImageLoadError(label, f"too large ({shown}, limit {MAX_SIDE} px a side); resize or crop it first",
                             "too_large")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageLoadError(label, f"too elongated ({shown}, more than {MAX_ASPECT}:1); crop it first",
                             "too_large")


def _megapixels(n: int) -> str:
    return f"{n / 1e6:g} MP" if n >= 100_000 else f"{n:,} px"


def is_image_path(path: Union[str, os.PathLike]) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def load_image(
    source: Source,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    draft_size: int | None = None,
) -> Image.Image:
    """Load `source` (a path or raw bytes) as an 8-bit RGB image with EXIF orientation applied.

    `draft_size`: a JPEG may be decoded at 1/2, 1/4 or 1/8 scale as long as both sides stay >= draft_size
    (libjpeg's DCT scaling: several times faster when the model wants small images)."""
    label = name or (f"<{len(source)} bytes>" if isinstance(source, (bytes, bytearray)) else str(source))
    data = read_image_bytes(source, label, max_bytes)
    try:
        with Image.open(io.BytesIO(data)) as img:
            check_size(label, *img.size, max_pixels=max_pixels)
            img.seek(0)  # first frame of a GIF / multi-page TIFF
            if draft_size and img.format == "JPEG":
                img.draft(None, (int(draft_size), int(draft_size)))
            img.load()
            return to_rgb(img)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(label, "not an image file Layerscope can read (PNG, JPEG, BMP, GIF, WebP, TIFF)",
                             "not_image")
    except Image.DecompressionBombError:  # Pillow's own guard, at twice the limit, fires inside open()
        raise ImageLoadError(label, f"too large (over {_megapixels(2 * Image.MAX_IMAGE_PIXELS)}, limit "
                                    f"{_megapixels(max_pixels)}); resize it first", "too_large")
    except MemoryError:
        raise ImageLoadError(label, "not enough memory to decode this image", "no_memory")
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError,
            ZeroDivisionError, OverflowError, RuntimeError, AttributeError, struct.error) as exc:
        # Pillow's decoders raise all of these on truncated or mangled files.
        raise ImageLoadError(label, f"the file is corrupt or truncated ({type(exc).__name__}: {exc})")


def read_image_bytes(source: Source, label: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of an image file, read only if it is a regular file within `max_bytes` (ImageLoadError
    otherwise: FIFOs, devices, sockets, folders, link loops and dangling links are refused before open)."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        try:
            data = read_regular_file(source, max_bytes)
        except FileRefused as exc:
            raise ImageLoadError(label or str(source), exc.reason, exc.kind)
    if not data:
        raise ImageLoadError(label or "<0 bytes>", "the file is empty (0 bytes)", "empty")
    return data


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB, EXIF orientation applied; transparency is composited on white."""
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not cost the user the image
        pass
    mode = img.mode
    if mode == "RGB":
        return img.copy()
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return Image.fromarray(_stretch_to_uint8(np.asarray(img, dtype=np.float64)), "L").convert("RGB")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "1":
        img = img.convert("L")
    return img.convert("RGB")


def _stretch_to_uint8(arr: np.ndarray) -> np.ndarray:
    """16-bit / 32-bit / float pixels -> 0..255 over their finite range. NaN and inf (common in float TIFFs
    from scientific tools) become black; no RuntimeWarning for all-NaN or constant images."""
    finite = np.isfinite(arr)
    if not finite.any():
        return np.zeros(arr.shape, dtype=np.uint8)
    lo, hi = float(arr[finite].min()), float(arr[finite].max())
    # float64 holds any float32 / int32 span; errstate covers a tiny span whose 255 / span overflows.
    with np.errstate(all="ignore"):
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        scaled = np.where(finite, scaled, 0.0)
    return np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0).clip(0, 255).astype(np.uint8)
