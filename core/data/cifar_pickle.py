"""CIFAR-10's python batches read without running code.

The batches are Python 2 pickles, and `pickle.load` runs whatever a pickle asks for: a data_batch_1 put into
the data folder by hand (the app tells offline users to) could run any command. This unpickler allows only
what the format uses: dicts, lists, bytes (as Python 3 writes them: latin-1 text), strings and numbers, and
numpy arrays of plain numbers, rebuilt
through numpy's own reconstructor with an empty start shape (so a crafted shape cannot allocate) and a dtype
that holds no Python objects. Anything else is refused with the module and name it asked for.
"""
from __future__ import annotations

import gzip
import io
import pickle

import numpy as np

from core.errors import LayerscopeError
from core.io.small_files import SmallFileError, read_bytes

MAX_BATCH_BYTES = 256 << 20  # a CIFAR-10 batch is 30 MB; CIFAR-100's train file 150 MB


class RefusedPickle(LayerscopeError, pickle.UnpicklingError):
    """A pickle that asks for something the CIFAR format never holds."""


def _reconstruct(subtype, shape, dtype):
    """numpy's ndarray reconstructor, only for a plain ndarray of an empty start shape (numpy always pickles
    it so: the real shape and data come with __setstate__, which checks the data's length)."""
    if subtype is not np.ndarray or tuple(shape) not in ((0,), ()):
        raise RefusedPickle(f"an array reconstructed as {getattr(subtype, '__name__', subtype)} of shape {shape}")
    return np.ndarray.__new__(np.ndarray, (0,), _dtype(dtype))


def _dtype(spec, *args):
    dtype = np.dtype(spec) if not args else np.dtype(spec, *args[:2])
    if dtype.hasobject:
        raise RefusedPickle(f"an array of Python objects (dtype {dtype})")
    return dtype


def _latin1_bytes(text, encoding="latin1"):
    """How Python 3 writes bytes into a protocol-2 pickle: _codecs.encode(text, 'latin1')."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedPickle(f"_codecs.encode of a {type(text).__name__} as {encoding!r}")
    return text.encode("latin1")


_ALLOWED = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
}


class CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        found = _ALLOWED.get((module, name))
        if found is None:
            raise RefusedPickle(f"it asks for {module}.{name}, which a CIFAR batch never holds")
        return found


def load_batch(path) -> dict:
    """One CIFAR batch (plain or .gz) as a dict with str keys; SmallFileError or RefusedPickle /
    UnpicklingError (with what was refused) otherwise. The file is read whole within MAX_BATCH_BYTES first:
    a FIFO, a device or a gzip bomb costs nothing."""
    data = read_bytes(path, max_bytes=MAX_BATCH_BYTES)
    if str(path).endswith(".gz"):
        data = _gunzip(data, path)
    batch = CifarUnpickler(io.BytesIO(data), encoding="latin1").load()
    if not isinstance(batch, dict):
        raise RefusedPickle(f"a CIFAR batch is a dict, this is a {type(batch).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _gunzip(data: bytes, path) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            out = fh.read(MAX_BATCH_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise SmallFileError(path, f"not a readable gzip file ({exc})", "unreadable") from None
    if len(out) > MAX_BATCH_BYTES:
        raise SmallFileError(path, f"it unpacks to more than {MAX_BATCH_BYTES >> 20} MiB", "too_big")
    return out
