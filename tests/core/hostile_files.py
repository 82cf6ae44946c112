"""Makers of hostile inputs for the input-safety tests: every file is generated here, in tmp_path."""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, *, pixels: bool = True) -> bytes:
    """A grayscale PNG of any size. With pixels=False only the header is real (a stub IDAT): enough for a
    check that must refuse the image before decoding, at no cost."""
    if pixels:
        raw = b"".join(b"\0" + bytes(width) for _ in range(height))
        idat = zlib.compress(raw, 9)
    else:
        idat = zlib.compress(b"\0" * 16)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def wide_png(path: Path) -> Path:
    """1,000,000 x 1 pixels in about 1 KB: resized to a 64-pixel shorter side it would ask for 12 GB."""
    path.write_bytes(png_bytes(1_000_000, 1))
    return path


def small_png(path: Path, value: int = 128, size: int = 16) -> Path:
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)
    return path


def fifo(path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("this system has no named pipes")
    os.mkfifo(path)
    return path


def sparse_file(path: Path, size: int = 8 * 2**30) -> Path:
    """An 8 GB file that takes no disk space (truncate)."""
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def symlink_loop(path: Path) -> Path:
    os.symlink(path.name, path)
    return path


def dangling_link(path: Path) -> Path:
    os.symlink(path.with_name("gone-" + path.name).name, path)
    return path


def folder_named_like_image(path: Path) -> Path:
    path.mkdir()
    return path
