"""An evaluation's results: per-image probabilities plus everything derived from them, saved as plain files.

Files written (all plain, readable without Layerscope): per_image.csv (one row per image), confusion.csv,
per_class.csv, summary.json, confusion.png and reliability.png. `load_evaluation` reads a folder back, so two
evaluations can be compared later without re-running a model.

Familiarity (core/familiarity/evaluation.py fills it in when the checkpoint has a feature bank): per_image.csv's
"familiarity" column holds each image's score in [0, 1], or "unknown" without a bank; summary.json's
"familiarity_threshold" is the score below which an image counts as unfamiliar (null: unknown).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.evaluate import metrics
from core.evaluate.images import IMAGES_DIR, MemoryImages
from core.io.atomic import atomic_write, write_csv_atomic, write_text_atomic
from core.io.small_files import CAPS, ListOf, Obj, SmallFileError, read_csv, read_json

TOP_K = 5
UNKNOWN = "unknown"  # per_image.csv's familiarity without a feature bank
PER_IMAGE_HEADER = ("file", "true", "predicted", "correct", "confidence", "loss", "margin", "top_k", "familiarity")
FILES = ("per_image.csv", "confusion.csv", "per_class.csv", "summary.json", "confusion.png", "reliability.png")


@dataclass
class EvalResult:
    classes: list[str]
    files: list[str]
    labels: np.ndarray  # [N] true class index
    probs: np.ndarray  # [N, K]
    source: str = ""
    checkpoint: str = ""
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    images: MemoryImages | None = None  # pictures of in-memory items (core/evaluate/images.py)
    familiarity: np.ndarray | None = None  # [N] scores in [0, 1] (core/familiarity); None: familiarity unknown
    familiarity_threshold: float | None = None  # an image scoring below it is unfamiliar

    @property
    def familiar(self) -> np.ndarray | None:
        """[N] bool, or None when familiarity is unknown."""
        if self.familiarity is None or self.familiarity_threshold is None:
            return None
        return self.familiarity >= self.familiarity_threshold

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def confusion(self) -> np.ndarray:
        return metrics.confusion_matrix(self.labels, self.predicted, len(self.classes))

    def cell(self, true_index: int, predicted_index: int) -> np.ndarray:
        """Indices of the images in one confusion-matrix cell, most confident first (a gallery's order)."""
        members = np.flatnonzero((self.labels == true_index) & (self.predicted == predicted_index))
        return members[np.argsort(-self.probs[members, predicted_index], kind="stable")]

    def per_class(self) -> dict[str, np.ndarray]:
        return metrics.per_class_scores(self.confusion)

    def reliability(self, bins: int = 15) -> list[dict]:
        return metrics.reliability_bins(self.probs, self.labels, bins)

    def summary(self) -> dict:
        bins = self.reliability()
        scores = self.per_class()
        loss, _ = metrics.per_image_loss_and_margin(self.probs, self.labels)
        return {
            "checkpoint": self.checkpoint, "source": self.source, "classes": list(self.classes),
            "images": int(len(self.labels)), "top1": metrics.top_k_accuracy(self.probs, self.labels, 1),
            "top5": metrics.top_k_accuracy(self.probs, self.labels, 5), "mean_loss": float(loss.mean()),
            "macro_f1": float(scores["f1"].mean()), "ece": metrics.expected_calibration_error(bins),
            "reliability": bins, "unreadable": [{"file": f, "reason": r} for f, r in self.unreadable],
            "notes": list(self.notes), "familiarity_threshold": self.familiarity_threshold,
            "unfamiliar": None if self.familiar is None else int((~self.familiar).sum()),
        }

    def per_image_rows(self) -> list[dict]:
        loss, margin = metrics.per_image_loss_and_margin(self.probs, self.labels)
        k = min(TOP_K, len(self.classes))
        order = np.argsort(-self.probs, axis=1)[:, :k]
        scores = self.familiarity
        rows = []
        for i, name in enumerate(self.files):
            top = ";".join(f"{self.classes[j]}:{self.probs[i, j]:.6f}" for j in order[i])
            rows.append({"file": name, "true": self.classes[self.labels[i]], "predicted": self.classes[order[i, 0]],
                         "correct": int(order[i, 0] == self.labels[i]), "confidence": f"{self.probs[i, order[i, 0]]:.6f}",
                         "loss": f"{loss[i]:.6f}", "margin": f"{margin[i]:.6f}", "top_k": top,
                         "familiarity": UNKNOWN if scores is None else f"{scores[i]:.4f}"})
        return rows


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def save_evaluation(result: EvalResult, out: str | Path, *, inside: str | Path | None = None) -> dict:
    """Write the six files into `out` (created); returns the summary. Every file through the one writer that
    never follows a link (core.io.atomic); `inside`: the folder `out` belongs to (a run's eval/: the run
    folder), whose sub-folders down to `out` must not be links either (default: `out` itself is trusted)."""
    from core.evaluate.plots import draw_confusion, draw_reliability

    out = Path(out).expanduser()
    inside = out if inside is None else Path(inside).expanduser()
    rows = result.per_image_rows()
    write_csv_atomic(out / "per_image.csv", PER_IMAGE_HEADER, ([r[h] for h in PER_IMAGE_HEADER] for r in rows),
                     inside=inside)
    matrix = result.confusion
    write_csv_atomic(out / "confusion.csv", ["true \\ predicted", *result.classes],
                     ([c, *matrix[i].tolist()] for i, c in enumerate(result.classes)), inside=inside)
    scores = result.per_class()
    write_csv_atomic(out / "per_class.csv", ["class", "precision", "recall", "f1", "support"],
                     ([c, f"{scores['precision'][i]:.6f}", f"{scores['recall'][i]:.6f}", f"{scores['f1'][i]:.6f}",
                       int(scores["support"][i])] for i, c in enumerate(result.classes)), inside=inside)
    summary = _json_safe(result.summary())
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2), inside=inside)
    confusion, reliability = draw_confusion(matrix, result.classes), draw_reliability(summary["reliability"])
    atomic_write(out / "confusion.png", lambda fh: confusion.save(fh, format="PNG"), inside=inside)
    atomic_write(out / "reliability.png", lambda fh: reliability.save(fh, format="PNG"), inside=inside)
    if result.images:  # in-memory items as PNGs, so the folder shows them without the dataset
        result.images.write_all(out, result.files, inside=inside)
        result.images.folder = out / IMAGES_DIR
    return summary


SUMMARY_SCHEMA = Obj(required={"classes": ListOf(str, max_len=100_000)},
                     optional={"source": str, "checkpoint": str, "familiarity_threshold": (float, type(None))})
PER_IMAGE_COLUMNS = ("file", "true", "top_k")
MAX_CELLS = 100_000_000  # images x classes of a loaded evaluation (800 MB of probabilities)


def load_evaluation(folder: str | Path) -> EvalResult:
    """Read an evaluation folder back (summary.json + per_image.csv). Raises EvaluationError when unusable.

    The folder may come from elsewhere: both files are read through the small-file reader (no FIFO, size
    caps, a schema, CSV field caps), probabilities must be numbers in [0, 1], and the images it names are
    opened only inside the evaluation folder or its dataset folder (`MemoryImages.roots`, resolve_image)."""
    from core.evaluate.source import EvaluationError

    folder = Path(folder).expanduser()
    try:
        summary = read_json(folder / "summary.json", max_bytes=CAPS["summary"], nonfinite="null",
                            schema=SUMMARY_SCHEMA)
        rows = read_csv(folder / "per_image.csv", required=PER_IMAGE_COLUMNS)
    except SmallFileError as exc:
        raise EvaluationError(f"not an evaluation folder Layerscope can read (summary.json + per_image.csv): "
                              f"{exc}") from None
    classes = summary["classes"]
    if len(rows) * max(len(classes), 1) > MAX_CELLS:
        raise EvaluationError(f"{folder}: {len(rows):,} images x {len(classes):,} classes is too large to load")
    labels, probs = _parse_rows(rows, classes, folder / "per_image.csv")
    source = summary.get("source", "")
    roots = (folder,) + tuple(r for r in [_dataset_root(source, classes)] if r is not None)
    threshold = summary.get("familiarity_threshold")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise EvaluationError(f"{folder / 'summary.json'}: familiarity_threshold {threshold} is not between 0 and 1")
    scores = _parse_familiarity(rows, folder / "per_image.csv") if threshold is not None else None
    return EvalResult(classes, [row["file"] for row in rows], labels, probs, source,
                      summary.get("checkpoint", ""), images=MemoryImages(folder=folder / IMAGES_DIR, roots=roots),
                      familiarity=scores, familiarity_threshold=None if scores is None else float(threshold))


def _parse_familiarity(rows: list[dict], path: Path) -> np.ndarray | None:
    """The familiarity column as scores in [0, 1]; None (unknown) when the column is missing (an evaluation
    written before it existed) or says "unknown" anywhere."""
    from core.evaluate.source import EvaluationError

    if not rows or "familiarity" not in rows[0]:
        return None
    scores = np.zeros(len(rows))
    for r, row in enumerate(rows):
        text = row.get("familiarity") or UNKNOWN
        if text == UNKNOWN:
            return None
        try:
            scores[r] = float(text)
        except ValueError:
            scores[r] = np.nan
        if not 0.0 <= scores[r] <= 1.0:  # also NaN
            raise EvaluationError(f"{path}: row {r + 2}: familiarity {text[:20]!r} is not a score between 0 and 1")
    return scores


def _parse_rows(rows: list[dict], classes: list[str], path: Path) -> tuple[np.ndarray, np.ndarray]:
    from core.evaluate.source import EvaluationError

    index = {c: i for i, c in enumerate(classes)}
    probs = np.zeros((len(rows), len(classes)))
    labels = np.zeros(len(rows), dtype=np.int64)
    try:
        for r, row in enumerate(rows):
            labels[r] = index[row["true"]]
            for item in row["top_k"].split(";"):
                name, _, p = item.rpartition(":")
                value = float(p)
                if not 0.0 <= value <= 1.0:  # also NaN
                    raise ValueError(f"probability {p[:20]} is not between 0 and 1")
                probs[r, index[name]] = value
    except (KeyError, ValueError) as exc:
        raise EvaluationError(f"{path}: row {r + 2} cannot be read ({str(exc)[:100]})") from None
    return labels, probs


def _dataset_root(source: str, classes: list[str]) -> Path | None:
    """The image folder an evaluation ran on ('FOLDER (split)', as core writes `source`), when it is a folder
    with a class folder for each of the evaluation's classes (at its top or under a split folder): a crafted
    summary.json that names /home as its dataset does not open the images there."""
    from core.data.folder import class_folders, find_split_folders

    root = Path(source.rsplit(" (", 1)[0]) if source.endswith(")") else None
    if root is None or not root.is_absolute() or not root.is_dir():
        return None
    tops = [root] + list(find_split_folders(root).values())
    names = {p.name for top in tops for p in class_folders(top)}
    return root if classes and set(classes) <= names else None
