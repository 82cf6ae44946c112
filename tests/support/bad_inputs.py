"""Generators of bad input for the fuzz test and benchmarks/robustness.py: every class of file, folder and
checkpoint that issue 12 found to crash, hang or mislead Layerscope, made here from a seed (no downloads).

Each image generator is `fn(seed, folder) -> BadFile`: one file (or link, FIFO, folder) written under
`folder`, with `expect`: "error" (must be refused with a message naming the file), "image" (a valid image
that must load) or "either" (a mangled file that may or may not still decode; it must just not crash).
"""
from __future__ import annotations

import io
import os
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "bmp": "BMP", "tif": "TIFF", "webp": "WEBP"}


@dataclass
class BadFile:
    kind: str
    path: Path
    expect: str  # "error", "image" or "either"
    size: tuple[int, int] | None = None  # the (width, height) a good load must give, when known


# ---- encoders ------------------------------------------------------------------------------------------
def random_image(seed: int, mode: str = "RGB", size: tuple[int, int] | None = None) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size or (int(rng.integers(8, 48)), int(rng.integers(8, 48)))
    rgb = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return rgb if mode == "RGB" else rgb.convert(mode)


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    if fmt == "GIF" and img.mode not in ("P", "L"):
        img = img.convert("P")
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int, bit_depth: int = 8, colour: int = 2, rows: int = 1) -> bytes:
    """A tiny PNG that claims width x height pixels: a valid IHDR and a few zero rows of real data."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row = 1 + (width * channels * bit_depth + 7) // 8
    idat = zlib.compress(b"\0" * (row * min(rows, height)), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_bomb(width: int = 13_000, height: int = 12_000) -> bytes:
    """A complete 1-bit PNG of width x height zeros (156 MP by default): ~20 KB on disk, a bomb decoded."""
    row = b"\0" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    data = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


_BOMB: bytes | None = None


def _bomb_bytes() -> bytes:
    global _BOMB
    if _BOMB is None:
        _BOMB = png_bomb()
    return _BOMB


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = Path(folder) / name
    path.write_bytes(data)
    return path


def _good_bytes(seed: int, ext: str) -> bytes:
    return encode(random_image(seed), FORMATS[ext])


# ---- image file classes --------------------------------------------------------------------------------
def _truncated(ext):
    def make(seed, folder):
        data = _good_bytes(seed, ext)
        cut = random.Random(seed).randint(1, len(data) - 1)
        return BadFile(f"truncated_{ext}", _write(folder, f"trunc{seed}.{ext}", data[:cut]), "either")
    return make


def _bitflipped(ext):
    def make(seed, folder):
        rnd = random.Random(seed)
        data = bytearray(_good_bytes(seed, ext))
        for _ in range(rnd.randint(1, 12)):
            data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
        return BadFile(f"corrupt_{ext}", _write(folder, f"flip{seed}.{ext}", bytes(data)), "either")
    return make


def _header_junk(ext):
    def make(seed, folder):
        rnd = random.Random(seed)
        data = bytearray(_good_bytes(seed, ext))
        at = rnd.randrange(min(64, len(data)))
        data[at:at + 8] = rnd.randbytes(8)
        return BadFile(f"header_junk_{ext}", _write(folder, f"junk{seed}.{ext}", bytes(data)), "either")
    return make


def _empty(ext):
    def make(seed, folder):
        return BadFile(f"empty_{ext}", _write(folder, f"empty{seed}.{ext}", b""), "error")
    return make


def random_bytes(seed, folder):
    rnd = random.Random(seed)
    ext = rnd.choice(sorted(FORMATS))
    return BadFile("random_bytes", _write(folder, f"rand{seed}.{ext}", rnd.randbytes(rnd.randint(1, 4096))), "either")


def magic_then_junk(seed, folder):
    """A real format signature followed by random bytes: the decoder gets past the first check."""
    rnd = random.Random(seed)
    ext = rnd.choice(sorted(FORMATS))
    magic = _good_bytes(seed, ext)[: rnd.randint(4, 40)]
    return BadFile("magic_then_junk", _write(folder, f"magic{seed}.{ext}", magic + rnd.randbytes(rnd.randint(0, 2048))), "either")


def huge_wide_png(seed, folder):
    # Finding 2: 1,000,000 x 1 pixels in ~1 KB; resizing it to the model's short side asks for 12 GB. The
    # loader may accept it (1 MP); `predict` and `train` must refuse it or cope, never crash.
    return BadFile("huge_wide_png", _write(folder, f"wide{seed}.png", png_header_only(1_000_000, 1)), "either")


def huge_tall_png(seed, folder):
    return BadFile("huge_tall_png", _write(folder, f"tall{seed}.png", png_header_only(1, 1_000_000, rows=1_000_000)), "either")


def huge_square_png(seed, folder):
    # 100k x 100k = 10 gigapixels claimed by a header: must be refused before decoding.
    return BadFile("huge_square_png", _write(folder, f"square{seed}.png", png_header_only(100_000, 100_000)), "error")


def png_decompression_bomb(seed, folder):
    return BadFile("bomb_png", _write(folder, f"bomb{seed}.png", _bomb_bytes()), "error")


def huge_tiff_header(seed, folder):
    data = bytearray(encode(random_image(seed, size=(16, 16)), "TIFF"))
    # Rewrite ImageWidth/ImageLength (tags 256/257) in the first IFD to 200k x 200k.
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * i
        tag, typ = struct.unpack_from("<HH", data, at)
        if tag in (256, 257):
            struct.pack_into("<HHII", data, at, tag, 4, 1, 200_000)
    return BadFile("huge_tiff_header", _write(folder, f"hugetiff{seed}.tif", bytes(data)), "error")


def float_tiff(seed, folder):
    rng = np.random.default_rng(seed)
    arr = rng.normal(0, 1e30, (12, 16)).astype(np.float32)
    arr[rng.integers(0, 12, 3), rng.integers(0, 16, 3)] = rng.choice([np.nan, np.inf, -np.inf], 3)
    if seed % 4 == 0:
        arr[:] = np.nan  # all NaN: no finite range at all
    path = Path(folder) / f"float{seed}.tif"
    Image.fromarray(arr, "F").save(path)
    return BadFile("float_tiff", path, "image", (16, 12))


def int16_tiff(seed, folder):
    arr = np.random.default_rng(seed).integers(0, 65536, (12, 16)).astype(np.uint16)
    path = Path(folder) / f"i16_{seed}.tif"
    Image.fromarray(arr).save(path)
    return BadFile("int16_tiff", path, "image", (16, 12))


def _weird_mode(mode, ext):
    def make(seed, folder):
        img = random_image(seed, mode, size=(20, 10))
        path = Path(folder) / f"{mode.replace(';', '_')}_{seed}.{ext}"
        if mode == "I;16":
            img = Image.fromarray(np.random.default_rng(seed).integers(0, 65536, (10, 20)).astype(np.uint16))
        img.save(path)
        return BadFile(f"mode_{mode}_{ext}", path, "image", (20, 10))
    return make


def exif_rotated(seed, folder):
    img = random_image(seed, size=(30, 10))
    exif = Image.Exif()
    exif[0x0112] = random.Random(seed).choice([6, 8])  # rotate 90: the loaded image must be 10 x 30
    path = Path(folder) / f"exif{seed}.jpg"
    img.save(path, exif=exif.tobytes())
    return BadFile("exif_rotated", path, "image", (10, 30))


def animated_gif(seed, folder):
    frames = [random_image(seed + i, size=(16, 16)).convert("P") for i in range(3)]
    path = Path(folder) / f"anim{seed}.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return BadFile("animated_gif", path, "image", (16, 16))


def wrong_extension(seed, folder):
    return BadFile("wrong_extension", _write(folder, f"really_png{seed}.jpg", _good_bytes(seed, "png")), "image")


def non_image_file(seed, folder):
    rnd = random.Random(seed)
    content = rnd.choice([b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", b"\x7fELF\x02\x01\x01" + bytes(64),
                          b"PK\x03\x04" + bytes(40), b"<html><body>not an image</body></html>",
                          "caf\u00e9 notes\n".encode() * 20, b"GIF89a"])
    return BadFile("non_image", _write(folder, f"doc{seed}.{rnd.choice(sorted(FORMATS))}", content), "error")


def fifo(seed, folder):
    # Finding 2: opening a FIFO blocks until a writer comes; a loader must refuse it by type first.
    path = Path(folder) / f"fifo{seed}.png"
    os.mkfifo(path)
    return BadFile("fifo", path, "error")


def link_to_dev_zero(seed, folder):
    path = Path(folder) / f"zero{seed}.png"
    path.symlink_to("/dev/zero")
    return BadFile("link_dev_zero", path, "error")


def symlink_loop(seed, folder):
    a, b = Path(folder) / f"loop{seed}a.png", Path(folder) / f"loop{seed}b.png"
    a.symlink_to(b.name)
    b.symlink_to(a.name)
    return BadFile("symlink_loop", a, "error")


def dangling_link(seed, folder):
    path = Path(folder) / f"dangling{seed}.jpg"
    path.symlink_to(Path(folder) / f"missing{seed}.jpg")
    return BadFile("dangling_link", path, "error")


def folder_named_jpg(seed, folder):
    path = Path(folder) / f"dir{seed}.jpg"
    path.mkdir()
    (path / "inner.png").write_bytes(_good_bytes(seed, "png"))
    return BadFile("folder_named_jpg", path, "error")


def sparse_huge(seed, folder):
    # Finding 2: an 8 GB sparse file (takes no disk) that a whole-file read turns into a MemoryError.
    path = Path(folder) / f"sparse{seed}.png"
    with open(path, "wb") as fh:
        fh.write(_good_bytes(seed, "png"))
        fh.truncate(8 * 2**30)
    return BadFile("sparse_8gb", path, "error")


def good_image(seed, folder):
    ext = random.Random(seed).choice(["png", "jpg", "bmp", "webp"])
    img = random_image(seed)
    return BadFile("good", _write(folder, f"good{seed}.{ext}", encode(img, FORMATS[ext])), "image", img.size)


# Classes that can hang or exhaust memory on code without the issue-12 guards: run them isolated.
DANGEROUS = frozenset({"fifo", "link_dev_zero", "sparse_8gb", "huge_wide_png", "huge_tall_png"})

IMAGE_CLASSES: dict[str, Callable[[int, Path], BadFile]] = {
    **{f"truncated_{e}": _truncated(e) for e in FORMATS},
    **{f"corrupt_{e}": _bitflipped(e) for e in FORMATS},
    **{f"header_junk_{e}": _header_junk(e) for e in FORMATS},
    **{f"empty_{e}": _empty(e) for e in FORMATS},
    "random_bytes": random_bytes, "magic_then_junk": magic_then_junk,
    "huge_wide_png": huge_wide_png, "huge_tall_png": huge_tall_png, "huge_square_png": huge_square_png,
    "bomb_png": png_decompression_bomb, "huge_tiff_header": huge_tiff_header,
    "float_tiff": float_tiff, "int16_tiff": int16_tiff,
    "mode_P_png": _weird_mode("P", "png"), "mode_LA_png": _weird_mode("LA", "png"),
    "mode_CMYK_jpg": _weird_mode("CMYK", "jpg"), "mode_CMYK_tif": _weird_mode("CMYK", "tif"),
    "mode_I;16_png": _weird_mode("I;16", "png"), "mode_1_png": _weird_mode("1", "png"),
    "mode_1_bmp": _weird_mode("1", "bmp"), "mode_RGBA_webp": _weird_mode("RGBA", "webp"),
    "exif_rotated": exif_rotated, "animated_gif": animated_gif, "wrong_extension": wrong_extension,
    "non_image": non_image_file,
    "fifo": fifo, "link_dev_zero": link_to_dev_zero, "symlink_loop": symlink_loop,
    "dangling_link": dangling_link, "folder_named_jpg": folder_named_jpg, "sparse_8gb": sparse_huge,
}


def make_bad(kind: str, seed: int, folder: str | Path) -> BadFile:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return (good_image if kind == "good" else IMAGE_CLASSES[kind])(seed, folder)
