"""Plain-array files (.npz) written atomically and read without trusting them.

Banks and feature files may come from a shared folder, so reading never unpickles (allow_pickle=False) and
never lets a file choose how much memory is taken: the file size is capped, and every member's .npy header
(dtype, shape) is checked against what the format expects BEFORE its data is read, so a header claiming
10^12 rows is refused instead of allocated. A digest over the arrays (like a checkpoint's weights_sha256)
catches damage and edits.
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.familiarity.errors import BankError
from core.io.atomic import atomic_write
from core.io.safefile import FileRefused, read_regular_file, regular_file_size

DIGEST_KEY = "content_sha256"


@dataclass(frozen=True)
class ArraySpec:
    kinds: str  # allowed numpy dtype kinds: "f" float, "i" signed int, "u" unsigned int, "U" text, "b" bool
    ndim: int
    max_itemsize: int = 8


def digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of every array (in name order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.asarray(arrays[name], order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Uncompressed npz with a digest member, written atomically (temp + fsync + rename)."""
    arrays = {name: np.asarray(a, order="C") for name, a in arrays.items()}
    arrays[DIGEST_KEY] = np.array(digest(arrays))
    buffer = io.BytesIO()  # zipfile wants to seek; the atomic writer's file need not
    np.savez(buffer, **arrays)
    return atomic_write(path, lambda fh: fh.write(buffer.getbuffer()))


def _header(zf: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    with zf.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    return tuple(shape), np.dtype(dtype)


def _check_header(name: str, shape, dtype: np.dtype, spec: ArraySpec, max_bytes: int) -> None:
    if dtype.hasobject or dtype.kind not in spec.kinds or dtype.itemsize > spec.max_itemsize:
        raise ValueError(f"{name} holds {dtype}, not the expected kind of values")
    if len(shape) != spec.ndim:
        raise ValueError(f"{name} has {len(shape)} dimensions, not {spec.ndim}")
    if int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > max_bytes:
        raise ValueError(f"{name} claims a shape {shape} larger than the whole file may be")


def read_npz(path: str | os.PathLike, specs: dict[str, ArraySpec], max_bytes: int, what: str) -> dict:
    """The arrays named in `specs` (exactly those), each checked for kind and rank, and the digest
    verified; BankError naming `path` and the reason otherwise."""
    path = Path(path)
    try:
        size = regular_file_size(path)
        if size > max_bytes:
            raise BankError(f"{path}: the file is {size / 2**20:,.0f} MiB, above the {max_bytes / 2**20:,.0f} MiB "
                            f"a {what} may be; it is not read")
        data = read_regular_file(path, max_bytes)
    except FileRefused as exc:
        raise BankError(f"{path}: {exc.reason}") from None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            wanted = {**specs, DIGEST_KEY: ArraySpec("U", 0, 4 * 64)}
            members, expected = set(zf.namelist()), {f"{name}.npy" for name in wanted}
            if members != expected:
                odd = sorted(expected - members) or sorted(members - expected)
                raise ValueError(f"{'missing' if expected - members else 'unexpected'} members {odd[:5]}")
            for name, spec in wanted.items():
                shape, dtype = _header(zf, f"{name}.npy")
                _check_header(name, shape, dtype, spec, max_bytes)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in wanted}
    except BankError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError) as exc:
        raise BankError(f"{path}: not a readable {what} ({str(exc)[:200]}); it is damaged or not one "
                        "of Layerscope's") from None
    stored = str(arrays.pop(DIGEST_KEY))
    if stored != digest(arrays):
        raise BankError(f"{path}: damaged or edited: its content does not match its checksum; rebuild it")
    return arrays


def encode_texts(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Many strings as (utf-8 bytes uint8, end offsets int64): a tenth of numpy's fixed-width UTF-32 for
    paths of uneven length. Undecodable file names survive through surrogateescape."""
    encoded = [t.encode("utf-8", "surrogateescape") for t in texts]
    ends = np.cumsum([len(b) for b in encoded], dtype=np.int64) if encoded else np.zeros(0, np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), ends


def decode_texts(data: np.ndarray, ends: np.ndarray) -> list[str]:
    ends = np.asarray(ends, dtype=np.int64)
    if len(ends) and (ends[-1] != len(data) or (np.diff(ends, prepend=0) < 0).any()):
        raise ValueError("the text offsets do not fit the text")
    raw = np.asarray(data, dtype=np.uint8).tobytes()
    starts = np.concatenate([[0], ends[:-1]]) if len(ends) else ends
    return [raw[s:e].decode("utf-8", "surrogateescape") for s, e in zip(starts.tolist(), ends.tolist())]
