"""A checkpoint's feature bank on disk, beside it and named after it: best.pt -> best.familiarity.npz.

Plain arrays in an npz (never pickle), the features in float16 (half the size; distances move by ~1e-3).
The block views (bank.py) are packed: the k-NN views' rows side by side in one array (`view_features`, each
view `view_dims` columns wide), the Mahalanobis views' class means side by side (`maha_means`) and their
precision matrices one after the other (`maha_precision`, flattened). Loading checks the format, every
array's kind and shape, finite values, unit rows, labels within the classes, the views against each other,
the content digest, and the weights checksum against the checkpoint's: a bank of another checkpoint, a stale
one (its checkpoint was overwritten since) or an edited one is refused, never used.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from core.familiarity.bank import FeatureBank, ViewBank
from core.familiarity.errors import BankError, StaleBankError
from core.familiarity.gaussian import Gaussians
from core.familiarity.npzfile import ArraySpec, decode_texts, encode_texts, read_npz, write_npz
from core.familiarity.views import View
from core.runs.layout import BANK_SUFFIX

FORMAT = "layerscope-familiarity-bank"
FORMAT_VERSION = 2  # 2: the block views and the combined calibration
MAX_BYTES = 1 << 30  # 50,000 rows of 2,048 float16 values are 200 MB; a GiB leaves room, not more
NORM_TOLERANCE = 0.01  # float16 rows are unit length within this

_SPECS = {
    "format": ArraySpec("U", 0, 4 * 64), "format_version": ArraySpec("i", 0),
    "weights_sha256": ArraySpec("U", 0, 4 * 64), "calibrated_on": ArraySpec("U", 0, 4 * 16),
    "features": ArraySpec("f", 2, 4), "labels": ArraySpec("i", 1), "k": ArraySpec("i", 0),
    "id_text": ArraySpec("u", 1, 1), "id_ends": ArraySpec("i", 1),
    "class_text": ArraySpec("u", 1, 1), "class_ends": ArraySpec("i", 1),
    "reference": ArraySpec("f", 1, 4), "energy_reference": ArraySpec("f", 1, 4),
    "combined_reference": ArraySpec("f", 1, 4), "view_text": ArraySpec("u", 1, 1), "view_ends": ArraySpec("i", 1),
    "view_dims": ArraySpec("i", 1), "view_rows": ArraySpec("i", 1), "view_reference": ArraySpec("f", 2, 4),
    "view_features": ArraySpec("f", 2, 4), "maha_means": ArraySpec("f", 2, 4), "maha_precision": ArraySpec("f", 1, 4),
}


def bank_path(checkpoint_path: str | os.PathLike) -> Path:
    """best.pt -> best.familiarity.npz, in the checkpoint's folder."""
    path = Path(checkpoint_path)
    return path.with_name(path.stem + BANK_SUFFIX)


def _pack_views(bank: FeatureBank) -> dict[str, np.ndarray]:
    knn = [v for v in bank.views if v.view.metric == "knn"]
    maha = [v for v in bank.views if v.view.metric == "maha"]
    view_text, view_ends = encode_texts([v.view.name for v in bank.views])
    rows, classes = len(bank.view_rows), len(bank.classes)
    references = np.stack([v.reference for v in bank.views]) if bank.views else np.zeros((0, 0), np.float32)
    return {
        "view_text": view_text, "view_ends": view_ends,
        "view_dims": np.array([v.dim for v in bank.views], dtype=np.int64),
        "view_rows": bank.view_rows.astype(np.int64), "view_reference": references.astype(np.float32),
        "view_features": (np.concatenate([v.features.numpy() for v in knn], axis=1) if knn
                          else np.zeros((rows, 0))).astype(np.float16),
        "maha_means": (np.concatenate([v.gaussians.means for v in maha], axis=1) if maha
                       else np.zeros((classes, 0))).astype(np.float32),
        "maha_precision": (np.concatenate([v.gaussians.precision.ravel() for v in maha]) if maha
                           else np.zeros(0)).astype(np.float32),
    }


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
        "combined_reference": bank.combined_reference.astype(np.float32), **_pack_views(bank),
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
    if version < FORMAT_VERSION or version > FORMAT_VERSION:
        raise ValueError(f"format version {version}; this Layerscope reads version {FORMAT_VERSION} (a bank of "
                         "another version is made again for the checkpoint)")
    features = a["features"].astype(np.float32)
    classes = decode_texts(a["class_text"], a["class_ends"])
    return FeatureBank(torch.from_numpy(np.ascontiguousarray(features)), a["labels"].astype(np.int64),
                       decode_texts(a["id_text"], a["id_ends"]), classes,
                       int(a["k"]), a["reference"].astype(np.float32), a["energy_reference"].astype(np.float32),
                       str(a["weights_sha256"]), str(a["calibrated_on"]), _unpack_views(a, len(classes)),
                       a["view_rows"].astype(np.int64), a["combined_reference"].astype(np.float32))


def _unpack_views(a: dict, classes: int) -> list[ViewBank]:
    views = [View.from_name(name) for name in decode_texts(a["view_text"], a["view_ends"])]
    dims, references = a["view_dims"].astype(np.int64), a["view_reference"].astype(np.float32)
    knn_columns, maha_columns = a["view_features"].astype(np.float32), a["maha_means"].astype(np.float32)
    precisions = a["maha_precision"].astype(np.float32)
    if len(dims) != len(views) or references.shape[0] != len(views) or (dims < 1).any():
        raise ValueError(f"{len(views)} views but {len(dims)} widths and {references.shape[0]} calibrations")
    knn_width, maha_width = int(dims[[v.metric == "knn" for v in views]].sum()), \
        int(dims[[v.metric == "maha" for v in views]].sum())
    if knn_columns.shape != (len(a["view_rows"]), knn_width) or maha_columns.shape != (classes, maha_width) \
            or len(precisions) != int((dims[[v.metric == "maha" for v in views]] ** 2).sum()):
        raise ValueError("the views' arrays do not fit their widths")
    out, knn_at, maha_at, precision_at = [], 0, 0, 0
    for view, dim, reference in zip(views, dims.tolist(), references):
        if view.metric == "knn":
            rows = torch.from_numpy(np.ascontiguousarray(knn_columns[:, knn_at:knn_at + dim]))
            out.append(ViewBank(view, reference, features=rows))
            knn_at += dim
        else:
            precision = precisions[precision_at:precision_at + dim * dim].reshape(dim, dim)
            out.append(ViewBank(view, reference, gaussians=Gaussians(
                np.ascontiguousarray(maha_columns[:, maha_at:maha_at + dim]), np.ascontiguousarray(precision))))
            maha_at += dim
            precision_at += dim * dim
    return out


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
    combined = bank.combined_reference
    if len(combined) != len(ref) or not np.isfinite(combined).all() or combined.min() < 0:
        raise ValueError("its combined calibration values are missing, negative or not finite")
    if bank.views and (len(bank.view_rows) < 2 or bank.view_rows.min() < 0 or bank.view_rows.max() >= n
                       or (np.diff(bank.view_rows) <= 0).any()):
        raise ValueError("the rows of its block views are not rows of the bank")
    for view in bank.views:
        if len(view.reference) != len(ref) or not np.isfinite(view.reference).all() or view.reference.min() < 0:
            raise ValueError(f"view {view.view.name}: its calibration values are missing or not finite")
        if view.features is not None:
            if not torch.isfinite(view.features).all() or ((view.features.norm(dim=1) - 1).abs() > NORM_TOLERANCE).any():
                raise ValueError(f"view {view.view.name}: its rows are not finite unit vectors")
        elif not (np.isfinite(view.gaussians.means).all() and np.isfinite(view.gaussians.precision).all()):
            raise ValueError(f"view {view.view.name}: its class means or precision are not finite")
