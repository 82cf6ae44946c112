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

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)

# A decompression bomb guard: images above this many pixels are refused (about 12k x 12k). Pillow's own
# default warns at 89 MP and fails at twice that; we fail earlier, with our own message.
DEFAULT_MAX_PIXELS = 150_000_000
# Files above this size are refused before they are read at all.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024

Source = Union[str, os.PathLike, bytes]

# Pillow warns (UserWarning) about damaged metadata it then works around, such as corrupt EXIF or odd TIFF
# tags: the image still loads, so for Layerscope's users these are noise. A filter set once here, rather
# than inside catch_warnings() per call, because catch_warnings is not thread-safe and folders are decoded
# on several threads.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")


class ImageLoadError(Exception):
    """An image could not be loaded. `path` names the file, `reason` says why in plain words."""

    def __init__(self, path: str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


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
    data = _read_bytes(source, label, max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width <= 0 or height <= 0:
                    raise ImageLoadError(label, f"the image has no pixels ({width}x{height})")
                if width * height > max_pixels:
                    raise ImageLoadError(
                        label,
                        f"the image is {width}x{height} = {width * height / 1e6:.0f} megapixels, above the "
                        f"safety limit of {max_pixels / 1e6:.0f} megapixels; resize it first",
                    )
                img.seek(0)  # first frame of a GIF / multi-page TIFF
                if draft_size and img.format == "JPEG":
                    img.draft(None, (int(draft_size), int(draft_size)))
                img.load()
                return to_rgb(img)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(label, "not an image file Layerscope can read (PNG, JPEG, BMP, GIF, WebP, TIFF)")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(label, f"the image is too large to decode safely ({exc})")
    except MemoryError:
        raise ImageLoadError(label, "not enough memory to decode this image")
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError,
            ZeroDivisionError, OverflowError, RuntimeError, AttributeError, struct.error) as exc:
        # Pillow's decoders raise all of these on truncated or mangled files.
        raise ImageLoadError(label, f"the file is corrupt or truncated ({type(exc).__name__}: {exc})")


def _read_bytes(source: Source, label: str, max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        if path.is_dir():
            raise ImageLoadError(label, "this is a folder, not an image file")
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ImageLoadError(label, "the file does not exist")
        except OSError as exc:
            raise ImageLoadError(label, f"the file cannot be read ({exc.strerror or exc})")
        if size > max_bytes:
            raise ImageLoadError(label, f"the file is {size / 2**20:.0f} MiB, above the {max_bytes / 2**20:.0f} MiB limit")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageLoadError(label, f"the file cannot be read ({exc.strerror or exc})")
    if not data:
        raise ImageLoadError(label, "the file is empty (0 bytes)")
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
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        arr8 = np.nan_to_num((arr - lo) * scale).clip(0, 255).astype(np.uint8)
        return Image.fromarray(arr8, "L").convert("RGB")
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
