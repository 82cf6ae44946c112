"""Feature files kept with a run, in their own sub-folder RUN/familiarity/:
- features-<first 16 hex digits of the weights checksum>.npz: one checkpoint's feature pass (train + val),
  found again by the checksum of the weights it was made with, so a file of other weights is never used;
- epoch-0003.npz: the pass at the end of epoch 3 during training, for replaying the map over the run.
Each holds the features (float16), the logits, labels, splits, ids, class names and the weights checksum.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from core.familiarity.errors import BankError, StaleBankError
from core.familiarity.features import FeatureSet
from core.familiarity.npzfile import ArraySpec, decode_texts, encode_texts, read_npz, write_npz

FEATURES_DIR = "familiarity"  # RUN/familiarity/
FORMAT = "layerscope-features"
FORMAT_VERSION = 1
MAX_BYTES = 2 << 30
_EPOCH_FILE = re.compile(r"^epoch-(\d{4,6})\.npz$")

_SPECS = {
    "format": ArraySpec("U", 0, 4 * 64), "format_version": ArraySpec("i", 0),
    "weights_sha256": ArraySpec("U", 0, 4 * 64), "epoch": ArraySpec("i", 0),
    "features": ArraySpec("f", 2, 4), "logits": ArraySpec("f", 2, 4), "labels": ArraySpec("i", 1),
    "splits": ArraySpec("u", 1, 1), "id_text": ArraySpec("u", 1, 1), "id_ends": ArraySpec("i", 1),
    "class_text": ArraySpec("u", 1, 1), "class_ends": ArraySpec("i", 1),
}


def features_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / FEATURES_DIR


def checkpoint_features_path(run_dir: str | os.PathLike, weights_checksum: str) -> Path:
    return features_dir(run_dir) / f"features-{weights_checksum[:16]}.npz"


def epoch_features_path(run_dir: str | os.PathLike, epoch: int) -> Path:
    return features_dir(run_dir) / f"epoch-{int(epoch):04d}.npz"


def save_features(path: str | os.PathLike, features: FeatureSet, classes: list[str], weights_checksum: str,
                  epoch: int = -1) -> Path:
    id_text, id_ends = encode_texts(features.ids)
    class_text, class_ends = encode_texts(list(classes))
    return write_npz(path, {
        "format": np.array(FORMAT), "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "weights_sha256": np.array(weights_checksum), "epoch": np.array(int(epoch), dtype=np.int64),
        "features": features.features.astype(np.float16), "logits": features.logits.astype(np.float32),
        "labels": features.labels.astype(np.int64), "splits": features.splits.astype(np.uint8),
        "id_text": id_text, "id_ends": id_ends, "class_text": class_text, "class_ends": class_ends,
    })


def load_features(path: str | os.PathLike, weights_checksum: str | None = None) -> tuple[FeatureSet, list[str], int]:
    """(features, class names, epoch) from a feature file; BankError when damaged, StaleBankError when made
    with weights other than `weights_checksum` (when given)."""
    a = read_npz(path, _SPECS, MAX_BYTES, "feature file")
    try:
        result = _from_arrays(a)
    except ValueError as exc:
        raise BankError(f"{path}: the feature file is damaged or was edited: {exc}") from None
    if weights_checksum is not None and str(a["weights_sha256"]) != weights_checksum:
        raise StaleBankError(f"{path}: these features were made with other weights; they are not used")
    return result


def _from_arrays(a: dict) -> tuple[FeatureSet, list[str], int]:
    if str(a["format"]) != FORMAT or not 1 <= int(a["format_version"]) <= FORMAT_VERSION:
        raise ValueError(f"not a {FORMAT} file of a version this Layerscope reads")
    feats, logits, labels, splits = a["features"].astype(np.float32), a["logits"].astype(np.float32), \
        a["labels"].astype(np.int64), a["splits"].astype(np.uint8)
    ids, classes = decode_texts(a["id_text"], a["id_ends"]), decode_texts(a["class_text"], a["class_ends"])
    n = len(labels)
    if not (len(feats) == len(logits) == len(splits) == len(ids) == n):
        raise ValueError("its arrays hold different numbers of images")
    if n and (logits.shape[1] != len(classes) or labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError("its labels or logits do not fit its classes")
    if not (np.isfinite(feats).all() and np.isfinite(logits).all()) or (splits > 2).any():
        raise ValueError("it holds values that are not finite, or unknown splits")
    return FeatureSet(feats, logits, labels, splits, ids), classes, int(a["epoch"])


def epoch_feature_files(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """(epoch, file) for each epoch-N.npz of a run, by epoch; links and other names are ignored."""
    folder = features_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for entry in os.scandir(folder):
        match = _EPOCH_FILE.match(entry.name)
        if match and entry.is_file(follow_symlinks=False):
            found.append((int(match.group(1)), Path(entry.path)))
    return sorted(found)
