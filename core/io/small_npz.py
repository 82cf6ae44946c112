"""NPZ files (numpy's zip of .npy arrays) read without trusting their sizes.

np.load trusts two numbers a crafted file controls: a zip member's size (a 4 MB zip bomb inflates to 4 GiB)
and an array header's shape (numpy allocates the whole array before reading a byte of it). Both are checked
here before any array is made: each member's declared size against a cap, the sum of all of them, and each
header's shape times its item size against the member's own size. Object arrays (pickles) are refused.
"""
from __future__ import annotations

import io
import math
import os
import zipfile

import numpy as np

from core.io.small_files import CAPS, SmallFileError, read_bytes

MAX_MEMBER_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30
MAX_MEMBERS = 1_000


def read_npz(path: str | os.PathLike, *, max_bytes: int = CAPS["npz"], no_link: bool = False,
             max_member_bytes: int = MAX_MEMBER_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES) -> dict[str, np.ndarray]:
    """Every array of an .npz file as {name: array}; SmallFileError names the file and the member otherwise."""
    data = read_bytes(path, max_bytes=max_bytes, no_link=no_link)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = _checked_members(archive, path, max_member_bytes, max_total_bytes)
            return {name.removesuffix(".npy"): _read_member(archive, info, path) for name, info in members}
    except SmallFileError:
        raise
    except MemoryError:
        raise SmallFileError(path, "not enough memory to read this file", "no_memory") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise SmallFileError(path, f"not a valid .npz file ({type(exc).__name__}: {str(exc)[:100]})", "npz") from None


def _checked_members(archive: zipfile.ZipFile, path, max_member: int, max_total: int):
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise SmallFileError(path, f"{len(infos):,} members, above {MAX_MEMBERS:,}", "npz")
    total = 0
    for info in infos:
        if info.file_size > max_member:
            raise SmallFileError(path, f"member {info.filename} would inflate to {info.file_size:,} bytes, above "
                                       f"{max_member:,}", "npz")
        total += info.file_size
    if total > max_total:
        raise SmallFileError(path, f"its members would inflate to {total:,} bytes, above {max_total:,}", "npz")
    return [(info.filename, info) for info in infos]


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path) -> np.ndarray:
    """One .npy member: its header checked against its declared size before numpy allocates the array.
    zipfile stops inflating at the declared size, so the member's bytes are bounded too."""
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise SmallFileError(path, f"member {info.filename}: .npy version {version} is not read", "npz")
        if dtype.hasobject:
            raise SmallFileError(path, f"member {info.filename} holds Python objects (a pickle); it is not loaded",
                                 "npz")
        needed = math.prod(shape) * dtype.itemsize
        if needed > info.file_size:
            raise SmallFileError(path, f"member {info.filename} declares {needed:,} bytes of data in a member of "
                                       f"{info.file_size:,}", "npz")
        raw = fh.read(needed)
    if len(raw) != needed:
        raise SmallFileError(path, f"member {info.filename} is truncated", "npz")
    array = np.frombuffer(raw, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()
