"""A checkpoint's feature bank on disk, beside it and named after it: best.pt -> best.familiarity.npz.

Plain arrays in an npz (never pickle), the features in float16 (half the size; distances move by ~1e-3).
Loading checks the format, every array's kind and shape, finite values, unit rows, labels within the
classes, the content digest, and the weights checksum against the checkpoint's: a bank of another
checkpoint, a stale one (its checkpoint was overwritten since) or an edited one is refused, never used.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from core.familiarity.bank import FeatureBank
from core.familiarity.errors import BankError, StaleBankError
from core.familiarity.npzfile import ArraySpec, decode_texts, encode_texts, read_npz, write_npz

FORMAT = "layerscope-familiarity-bank"
FORMAT_VERSION = 1
SUFFIX = ".familiarity.npz"
MAX_BYTES = 1 << 30  # 50,000 rows of 2,048 float16 values are 200 MB; a GiB leaves room, not more
NORM_TOLERANCE = 0.01  # float16 rows are unit length within this

_SPECS = {
    "format": ArraySpec("U", 0, 4 * 64), "format_version": ArraySpec("i", 0),
    "weights_sha256": ArraySpec("U", 0, 4 * 64), "calibrated_on": ArraySpec("U", 0, 4 * 16),
    "features": ArraySpec("f", 2, 4), "labels": ArraySpec("i", 1), "k": ArraySpec("i", 0),
    "id_text": ArraySpec("u", 1, 1), "id_ends": ArraySpec("i", 1),
    "class_text": ArraySpec("u", 1, 1), "class_ends": ArraySpec("i", 1),
    "reference": ArraySpec("f", 1, 4), "energy_reference": ArraySpec("f", 1, 4),
}


def bank_path(checkpoint_path: str | os.PathLike) -> Path:
    """best.pt -> best.familiarity.npz, in the checkpoint's folder."""
    path = Path(checkpoint_path)
    return path.with_name(path.stem + SUFFIX)


def save_bank(bank: FeatureBank, path: str | os.PathLike) -> Path:
    id_text, id_ends = encode_texts(bank.ids)
    class_text, class_ends = encode_texts(bank.classes)
    return write_npz(path, {
        "format": np.array(FORMAT), "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "weights_sha256": np.array(bank.weights_checksum), "calibrated_on": np.array(bank.calibrated_on),
        "features": bank.features.numpy().astype(np.float16), "labels": bank.labels.astype(np.int64),
        "k": np.array(bank.k, dtype=np.int64), "id_text": id_text, "id_ends": id_ends,
        "class_text": class_text, "class_ends": class_ends,
        "reference": bank.reference.astype(np.float32), "energy_reference": bank.energy_reference.astype(np.float32),
    })


def load_bank(path: str | os.PathLike, weights_checksum: str, classes: list[str] | None = None,
              feature_dim: int | None = None) -> FeatureBank:
    """The bank at `path` if it is whole and made for the weights with `weights_checksum` (and, when given,
    these classes and this feature width); BankError / StaleBankError naming the file and reason otherwise."""
    a = read_npz(path, _SPECS, MAX_BYTES, "familiarity bank")
    try:
        bank = _bank_from_arrays(a)
        _check(bank, classes, feature_dim)
    except ValueError as exc:
        raise BankError(f"{path}: the familiarity bank is damaged or was edited: {exc}") from None
    if bank.weights_checksum != weights_checksum:
        raise StaleBankError(f"{path}: this familiarity bank was made for other weights (another checkpoint, or "
                             "this one before it was overwritten); it is not used. Rebuild it for this checkpoint")
    return bank


def _bank_from_arrays(a: dict) -> FeatureBank:
    if str(a["format"]) != FORMAT:
        raise ValueError(f"format {str(a['format'])[:40]!r} is not {FORMAT!r}")
    version = int(a["format_version"])
    if version < 1 or version > FORMAT_VERSION:
        raise ValueError(f"format version {version}; this Layerscope reads up to {FORMAT_VERSION}")
    features = a["features"].astype(np.float32)
    return FeatureBank(torch.from_numpy(np.ascontiguousarray(features)), a["labels"].astype(np.int64),
                       decode_texts(a["id_text"], a["id_ends"]), decode_texts(a["class_text"], a["class_ends"]),
                       int(a["k"]), a["reference"].astype(np.float32), a["energy_reference"].astype(np.float32),
                       str(a["weights_sha256"]), str(a["calibrated_on"]))


def _check(bank: FeatureBank, classes: list[str] | None, feature_dim: int | None) -> None:
    n, d = bank.features.shape
    if n < 2 or d < 1:
        raise ValueError(f"it holds {n} rows of {d} values; it needs at least 2 rows")
    if len(bank.labels) != n or len(bank.ids) != n:
        raise ValueError(f"{n} feature rows but {len(bank.labels)} labels and {len(bank.ids)} ids")
    if not torch.isfinite(bank.features).all():
        raise ValueError("some features are not finite numbers")
    norms = bank.features.norm(dim=1)
    if ((norms - 1).abs() > NORM_TOLERANCE).any():
        raise ValueError("some feature rows are not of unit length")
    if len(bank.classes) < 2 or (len(bank.labels) and (bank.labels.min() < 0 or bank.labels.max() >= len(bank.classes))):
        raise ValueError(f"labels outside its {len(bank.classes)} classes")
    if classes is not None and list(classes) != bank.classes:
        raise ValueError(f"its classes {bank.classes[:8]} differ from the checkpoint's {list(classes)[:8]}")
    if feature_dim is not None and d != feature_dim:
        raise ValueError(f"its features have {d} values, the model's have {feature_dim}")
    if not 1 <= bank.k < n:
        raise ValueError(f"k = {bank.k} should be between 1 and {n - 1}")
    ref, energies = bank.reference, bank.energy_reference
    if len(ref) < 1 or len(energies) != len(ref) or not (np.isfinite(ref).all() and np.isfinite(energies).all()):
        raise ValueError("its calibration values are missing or not finite")
    if ref.min() < 0 or ref.max() > 2.0 + 1e-3:  # distances between unit vectors lie in [0, 2]
        raise ValueError("its calibration distances lie outside [0, 2]")
    if bank.calibrated_on not in ("val", "train") or len(bank.weights_checksum) != 64:
        raise ValueError("its calibration source or weights checksum is malformed")
