"""Folder layouts that issue 12 (finding 3) found misread, each with a check of the `dataset --json` result.

`make_layout(name, seed, root) -> (root, check)`; check(rc, stdout, stderr) returns None when the layout
was understood (or refused with a message), else what went wrong.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.support.bad_inputs import make_bad


def _images(folder: Path, n: int, seed: int) -> None:
    for i in range(n):
        make_bad("good", seed * 100 + i, folder)


def _report(stdout: str) -> dict | None:
    try:
        return json.loads(stdout)
    except ValueError:
        return None


def _refused(rc, out, err):
    """A folder that is no dataset: exit 2 and a message, not a report."""
    return None if rc == 2 and err.strip() else f"expected exit 2 with a message, got rc {rc}"


def _classes_exclude(*names):
    def check(rc, out, err):
        report = _report(out)
        if report is None:
            return f"no report (rc {rc}): {err[:120]}"
        bad = [n for n in names if n in report.get("classes", [])]
        return f"{bad} read as class names: {report.get('classes')}" if bad else None
    return check


def _mentions(*words):
    """Each word (or one of a tuple of alternatives) appears in the report: the problem is named."""
    def check(rc, out, err):
        text = (out + err).lower()
        if rc not in (0, 2):
            return f"rc {rc}"
        groups = [w if isinstance(w, tuple) else (w,) for w in words]
        missing = [g for g in groups if not any(w.lower() in text for w in g)]
        return f"the report never mentions {missing}" if missing else None
    return check


def _empty(root, seed):
    root.mkdir(parents=True)
    return _refused


def _one_class(root, seed):
    _images(root / "cats", 3, seed)
    return _refused


def _no_images(root, seed):
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        (root / cls / "notes.txt").write_text("no images here")
    return _refused


def _training_validation(root, seed):
    for split in ("training", "validation"):
        for cls in ("cats", "dogs"):
            _images(root / split / cls, 3, seed)
    return _classes_exclude("training", "validation")


def _train_valid_test(root, seed):
    for split in ("train", "valid", "testing"):
        for cls in ("cats", "dogs"):
            _images(root / split / cls, 2, seed)
    return _classes_exclude("train", "valid", "testing")


def _macosx(root, seed):
    for cls in ("cats", "dogs"):
        _images(root / cls, 3, seed)
    _images(root / "__MACOSX" / "cats", 2, seed + 1)
    return _classes_exclude("__MACOSX")


def _class_only_in_val(root, seed):
    for cls in ("cats", "dogs"):
        _images(root / "train" / cls, 3, seed)
        _images(root / "val" / cls, 2, seed + 1)
    _images(root / "val" / "birds", 2, seed + 2)
    return _mentions("birds")


def _empty_val(root, seed):
    for cls in ("cats", "dogs"):
        _images(root / "train" / cls, 3, seed)
        (root / "val" / cls).mkdir(parents=True)
    return _mentions("val", ("empty", "no images", "held out"))


LAYOUTS = {"empty": _empty, "one_class": _one_class, "no_images": _no_images,
           "training_validation": _training_validation, "train_valid_testing": _train_valid_test,
           "macosx": _macosx, "class_only_in_val": _class_only_in_val, "empty_val": _empty_val}


def make_layout(name: str, seed: int, root: Path):
    root = Path(root)
    return root, LAYOUTS[name](root, seed)
