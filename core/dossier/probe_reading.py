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
from core.io.small_files import CAPS, ListOf, MapOf, Obj, SmallFileError, parse_json, read_bytes, read_json
from core.runs.layout import PROBES_INDEX, PROBES_TIMELINE, PROBES_TRUE_CLASSES, RunLayout

MAX_PROBES = 16
SALIENCY_PX = 32
MAX_SALIENCY_PX = 256
MAX_TIMELINE_BYTES = 256 << 20  # MAX_PROBES x MAX_SNAPSHOTS lines of a few KB, far below this
INDEX_SCHEMA = Obj(required={"files": ListOf(str, MAX_PROBES)},
                   optional={"labels": ListOf((int, type(None)), MAX_PROBES), "classes": ListOf(str),
                             "saliency_px": int, "skipped": ListOf(Obj(optional={"file": str, "reason": str}))})
_PROBE = Obj(required={"saliency": str},
             optional={"predicted": (str, int), "top": ListOf(ListOf((str, int, float), 2), 1000),
                       "probs": None,  # a list of numbers or null: class_probabilities takes only what fits
                       "true_prob": (float, type(None)), "layers": dict})
SNAPSHOT_SCHEMA = Obj(required={"probes": ListOf(_PROBE, MAX_PROBES)}, optional={"step": int, "epoch": float})
NAMES_SCHEMA = Obj(optional={"classes": MapOf(str, 10_000)})


def read_probes(run_dir: str | Path) -> tuple[dict, list[dict]]:
    """(probes.json, snapshots in order) with each saliency decoded to a uint8 [px, px] array and
    index["true"]: each probe's true class (named by the user, else by its class folder), or None. A run
    without probes gives ({}, []). The run folder may be shared: the files go through the small-file reader
    (SmallFileError naming the file when probes.json or the timeline cannot be used); a timeline line that is
    torn (the run is writing) or not what a run writes is skipped, and names that cannot be read are ignored."""
    folder = RunLayout(run_dir).probes
    try:
        index = read_json(folder / PROBES_INDEX, max_bytes=CAPS["summary"], nonfinite="null", schema=INDEX_SCHEMA)
    except SmallFileError as exc:
        if exc.kind == "missing":
            return {}, []
        raise
    px = index.get("saliency_px", SALIENCY_PX)
    if not 1 <= px <= MAX_SALIENCY_PX:
        raise SmallFileError(folder / PROBES_INDEX, f"saliency_px {px} is not between 1 and {MAX_SALIENCY_PX}")
    index["true"] = true_classes(index, _read_names(folder / PROBES_TRUE_CLASSES))
    try:
        data = read_bytes(folder / PROBES_TIMELINE, max_bytes=MAX_TIMELINE_BYTES)
    except SmallFileError as exc:
        if exc.kind != "missing":
            raise
        data = b""
    snapshots = []
    for line in data.split(b"\n"):
        snap = _snapshot(line, folder / PROBES_TIMELINE, px, len(index["files"])) if line.strip() else None
        if snap is not None:
            snapshots.append(snap)
    return index, snapshots


def _snapshot(line: bytes, path: Path, px: int, probes: int) -> dict | None:
    try:
        snap = parse_json(line, path, nonfinite="null", schema=SNAPSHOT_SCHEMA)
        if len(snap["probes"]) != probes:
            return None  # a line of another set of probes (a run resumed with new ones)
        for p in snap["probes"]:
            raw = base64.b64decode(p["saliency"], validate=True)
            if len(raw) != px * px:
                return None
            p["saliency"] = np.frombuffer(raw, np.uint8).reshape(px, px)
    except (SmallFileError, ValueError):  # a torn last line while the run writes; binascii.Error is a ValueError
        return None
    return snap


def _read_names(path: Path) -> dict | None:
    """true_classes.json, or None when absent or not usable (the probes then show their folders' classes)."""
    try:
        return read_json(path, max_bytes=CAPS["control"], schema=NAMES_SCHEMA)
    except SmallFileError:
        return None


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
    current = _read_names(path)
    names = current.get("classes", {}) if isinstance(current, dict) else {}
    names = {k: v for k, v in names.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(names, dict) else {}
    if class_name is None:
        names.pop(file, None)
    else:
        names[file] = class_name
    # never through a link: a probes/ folder or true_classes.json planted as one is refused (core.io.atomic)
    return write_text_atomic(path, json.dumps({"version": 1, "classes": names}, indent=1), inside=run_dir)


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
