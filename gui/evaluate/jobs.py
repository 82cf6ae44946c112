"""The Evaluate tab's background jobs: plain functions of a TaskContext (gui/concurrent.py runs them).

Each imports the engine lazily, so the tab builds before torch loads; the context is core's progress protocol
(core/progress.py), handed to the engine's long passes as is: their progress is throttled there and a newer
request cancels them.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter

EVAL_IMPORTS = ("core.evaluate", "core.evaluate.run", "core.evaluate.result", "core.familiarity.evaluation")


def evaluate_job(checkpoint, dataset: str | None, split: str, out: str | None):
    """checkpoint: a Checkpoint object (the hub's model) or a path. -> EvalResult, with each image's
    familiarity when the checkpoint has a feature bank (core/familiarity/evaluation.py)."""
    def run(context):
        from core.evaluate.result import save_evaluation
        from core.familiarity.evaluation import evaluate_with_familiarity

        result = evaluate_with_familiarity(checkpoint, dataset or None, split, progress=context)
        if out is not None:
            save_evaluation(result, out)
        return result
    return run


def build_bank_job(checkpoint: str):
    """The feature bank of a checkpoint file, stored beside it (best.pt -> best.familiarity.npz). -> its path."""
    def run(context):
        from core.familiarity.jobs import build_bank

        return str(build_bank(checkpoint, progress=context))
    return run


def load_evaluation_job(folder: str):
    def run(context):
        from core.evaluate.result import load_evaluation

        return load_evaluation(folder)
    return run


def compare_job(a, b):
    """a, b: EvalResult or an evaluation folder. -> (Comparison, B's MemoryImages for the thumbnails of
    in-memory items, or None)."""
    def run(context):
        from core.evaluate.result import load_evaluation
        from core.evaluate.compare import compare_evaluations

        first = load_evaluation(a) if isinstance(a, (str, Path)) else a
        second = load_evaluation(b) if isinstance(b, (str, Path)) else b
        return compare_evaluations(first, second), getattr(second, "images", None)
    return run


def label_issues_job(root: str, folds: int, epochs: int):
    """-> dict(issues, trust, duplicates, confounds, classes, root)."""
    def run(context):
        from core.evaluate.label_issues import dataset_findings, find_folder_label_issues, list_trust

        issues, data, probs = find_folder_label_issues(root, folds=folds, epochs=epochs, progress=context)
        context.check_cancelled()
        duplicates, confounds = dataset_findings(data)
        trust = list_trust(data.labels, probs, sum(i.flagged for i in issues))
        return {"issues": issues, "trust": trust, "duplicates": duplicates, "confounds": confounds,
                "classes": list(data.classes), "root": root}
    return run


def corrections_job(root: str, action: str, file: str = "", label: str = "", classes=()):
    """One edit of the corrections file (relabel / exclude / confirm / undo / apply / undo_apply).
    -> (action, file, text for the user)."""
    def run(context):
        from core.data import correction_moves as moves_of
        from core.data import corrections as corr

        if action == "apply":
            moves = moves_of.apply_moves(root)
            done = [m for m in moves if m["to"]]
            notes = [m.get("note", "") for m in moves if m.get("note")]
            return action, "", f"moved {len(done)} files" + (f" ({'; '.join(notes[:3])})" if notes else "")
        if action == "undo_apply":
            results = moves_of.undo_last_apply(root)
            moves = [r for r in results if r["from"] is not None]
            back = sum(1 for r in moves if r["undone"])
            refused = [r["note"] for r in results if r["from"] is None]  # log lines this app did not write
            return action, "", f"moved {back} of {len(moves)} files back" + (
                f"; refused: {'; '.join(refused[:2])}" if refused else "")
        fixes = corr.load_corrections(root)
        if fixes.problem:
            raise corr.CorrectionsError(fixes.problem)
        touched = file
        if action == "relabel":
            fixes.relabel(file, label, list(classes))
        elif action == "exclude":
            fixes.exclude(file)
        elif action == "confirm":
            fixes.confirm(file)
        elif action == "undo":
            touched = fixes.undo() or ""  # a path relative to the dataset
            if not touched:
                return action, "", "nothing to undo"
            touched = str(fixes.root / touched)
        fixes.save()
        return action, touched, f"{action}: {Path(touched).name}" + (f" -> {label}" if label else "")
    return run


def finetune_settings_job(checkpoint: str):
    def run(context):
        from core.training.finetune import finetune_settings

        return finetune_settings(checkpoint), checkpoint
    return run


def export_job(checkpoint, fmt: str, out: str):
    def run(context):
        from core.evaluate.export import export_checkpoint

        return export_checkpoint(checkpoint, fmt, out)
    return run


def thumbnails_job(chunk: list[tuple[int, str]], size: int, images=None):
    """Decode one chunk of (row, file) and deliver (row, QImage) pairs as one partial result.
    images: MemoryImages turning in-memory ids into PNGs (core/evaluate/images.py), or None."""
    def run(context):
        from core.evaluate.images import resolve_image

        out = []
        for row, file in chunk:
            context.check_cancelled()
            out.append((row, thumbnail(resolve_image(file, images), size)))
        context.deliver(out)
        return None
    return run


def thumbnail(file: str | None, size: int) -> QImage | None:
    """A small QImage of an image file, centred on a transparent size x size square so every item of a gallery
    has the same shape (a wide photo's caption then never runs into a tall one's); None when it is not a file, is
    refused by the image limits, or lies outside a loaded evaluation's folders (`file` is None then). Decoded by
    the one safe image loader (regular files only, byte and pixel limits, JPEG draft decoding at the size)."""
    from core.io.images import ImageLoadError, load_image

    if file is None or not Path(file).is_file():
        return None  # an in-memory item with no picture here, or a path the evaluation may not open
    try:
        img = load_image(file, draft_size=size)
        img.thumbnail((size, size))
        data = img.tobytes()
        picture = QImage(data, img.width, img.height, 3 * img.width, QImage.Format.Format_RGB888)
        return _on_square(picture, size)
    except (ImageLoadError, OSError, ValueError):
        return None


def _on_square(picture: QImage, size: int) -> QImage:
    """`picture` centred on a transparent size x size image (painting a QImage is safe off the GUI thread)."""
    square = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    square.fill(Qt.GlobalColor.transparent)
    painter = QPainter(square)
    painter.drawImage((size - picture.width()) // 2, (size - picture.height()) // 2, picture)
    painter.end()
    return square
