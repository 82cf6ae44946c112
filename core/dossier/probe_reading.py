"""Reading a run's probe timeline, and the true class a user names for a probe. Torch-free (the window
reads it before PyTorch has loaded).

A probe pinned from anywhere but a class folder (`--probe photo.jpg`, "Pin as probe") has no true class the
run could know: its snapshots carry every class's probability (`probs`), and the user may name the true
class afterwards. That name is kept beside the timeline in RUN/probes/true_classes.json,
`{"version": 1, "classes": {"<probe file>": "<class>"}}`, never in probes.json, which a resumed run rewrites.
"""
from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np

from core.io.atomic import write_text_atomic
from core.io.safefile import FileRefused, read_regular_file
from core.runs.layout import PROBES_INDEX, PROBES_TIMELINE, PROBES_TRUE_CLASSES, RunLayout

SALIENCY_PX = 32
INDEX_MAX_BYTES = 1 << 20
TIMELINE_MAX_BYTES = 256 << 20
NAMES_MAX_BYTES = 1 << 16


def _read_json(path: Path, max_bytes: int):
    try:
        return json.loads(read_regular_file(path, max_bytes))
    except (FileRefused, OSError, ValueError, RecursionError):
        return None


def read_probes(run_dir: str | Path) -> tuple[dict, list[dict]]:
    """(probes.json, snapshots in order) with each saliency decoded to a uint8 [32, 32] array and
    index["true"]: each probe's true class (named by the user, else by its class folder), or None. A run
    without probes gives ({}, [])."""
    folder = RunLayout(run_dir).probes
    index = _read_json(folder / PROBES_INDEX, INDEX_MAX_BYTES)
    if not isinstance(index, dict) or not isinstance(index.get("files"), list):
        return {}, []
    index["true"] = true_classes(index, _read_json(folder / PROBES_TRUE_CLASSES, NAMES_MAX_BYTES))
    try:
        lines = read_regular_file(folder / PROBES_TIMELINE, TIMELINE_MAX_BYTES).decode("utf-8", "replace").splitlines()
    except FileRefused:
        lines = []
    px = int(index.get("saliency_px", SALIENCY_PX))
    snapshots = [snap for snap in (_snapshot(line, px, len(index["files"])) for line in lines) if snap is not None]
    return index, snapshots


def _snapshot(line: str, px: int, probes: int) -> dict | None:
    try:
        snap = json.loads(line)
    except ValueError:
        return None  # a torn last line while the run writes
    if not isinstance(snap, dict) or not isinstance(snap.get("probes"), list) or len(snap["probes"]) != probes:
        return None
    for p in snap["probes"]:
        try:
            p["saliency"] = np.frombuffer(base64.b64decode(p["saliency"]), np.uint8).reshape(px, px)
        except (KeyError, TypeError, ValueError):
            p["saliency"] = None
    return snap


def true_classes(index: dict, named) -> list[str | None]:
    """Per probe: the class the user named (when it is one of the run's), else its class folder's, else None."""
    classes = [str(c) for c in index.get("classes", [])]
    named = named.get("classes", {}) if isinstance(named, dict) else {}
    named = named if isinstance(named, dict) else {}
    labels = index.get("labels") or []
    out = []
    for i, file in enumerate(index.get("files", [])):
        name = named.get(file)
        label = labels[i] if i < len(labels) else None
        if isinstance(name, str) and name in classes:
            out.append(name)
        elif isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(classes):
            out.append(classes[label])
        else:
            out.append(None)
    return out


def name_true_class(run_dir: str | Path, file: str, class_name: str | None) -> Path:
    """Remember `class_name` as the true class of the probe `file` (None forgets it); written atomically."""
    path = RunLayout(run_dir).probes / PROBES_TRUE_CLASSES
    current = _read_json(path, NAMES_MAX_BYTES)
    names = current.get("classes", {}) if isinstance(current, dict) else {}
    names = {k: v for k, v in names.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(names, dict) else {}
    if class_name is None:
        names.pop(file, None)
    else:
        names[file] = class_name
    return write_text_atomic(path, json.dumps({"version": 1, "classes": names}, indent=1))


def class_probabilities(snapshots: list[dict], probe: int, classes: list[str]) -> np.ndarray:
    """[snapshots, classes] probabilities of one probe over the run: every class where the snapshot kept
    them all (`probs`), else only its top-k (the others NaN)."""
    out = np.full((len(snapshots), len(classes)), np.nan)
    where = {name: k for k, name in enumerate(classes)}
    for i, snap in enumerate(snapshots):
        entry = snap["probes"][probe]
        probs = entry.get("probs")
        if isinstance(probs, list) and len(probs) == len(classes):
            out[i] = [float(v) if isinstance(v, (int, float)) and math.isfinite(v) else np.nan for v in probs]
            continue
        for label, prob in entry.get("top", []):
            if str(label) in where and isinstance(prob, (int, float)):
                out[i, where[str(label)]] = float(prob)
    return out


def classes_to_show(probabilities: np.ndarray, classes: list[str], true: str | None, most: int = 5) -> list[int]:
    """The classes worth a line: those that were most likely at any snapshot (highest peak first), at most
    `most`, and the true class whenever it is known."""
    if probabilities.size == 0:
        return []
    peaks = np.where(np.isnan(probabilities), -1.0, probabilities).max(axis=0)
    order = [int(k) for k in np.argsort(-peaks, kind="stable") if peaks[k] >= 0][:most]
    if true in classes and classes.index(true) not in order:
        order.append(classes.index(true))
    return order
