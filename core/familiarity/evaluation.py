"""An evaluation with familiarity: `layerscope evaluate` and the Evaluate tab score every evaluated image
against the checkpoint's feature bank, from the same forward as its prediction (features.py's pass gives the
logits too, so the evaluation costs no second pass).

Without a bank (or with one that is damaged or made for other weights) the evaluation is the plain one and
its familiarity is unknown; a note says why and how to compute the bank (`layerscope familiarity`).
"""
from __future__ import annotations

import os

import numpy as np

from core.checkpoints.checkpoint import Checkpoint, load_checkpoint
from core.evaluate.result import EvalResult
from core.evaluate.run import evaluate_model
from core.evaluate.source import eval_data
from core.familiarity.bank import FeatureBank
from core.familiarity.errors import BankError
from core.familiarity.features import extract_features
from core.familiarity.jobs import bank_for_checkpoint, bank_views
from core.familiarity.scoring import familiarity_scores
from core.familiarity.sources import ImageSet
from core.progress import NO_PROGRESS, Progress


def checkpoint_bank(ckpt: Checkpoint, model) -> tuple[FeatureBank | None, str]:
    """(the bank beside the checkpoint or None, why it is unknown: "" when there is one)."""
    if not ckpt.source:
        return None, "the model was not loaded from a checkpoint file, so it has no feature bank beside it"
    try:
        bank = bank_for_checkpoint(ckpt, model)
    except BankError as exc:
        return None, f"its feature bank is refused ({exc})"
    if bank is None:
        return None, (f"{ckpt.source} has no feature bank; compute it with `layerscope familiarity --checkpoint "
                      f"{ckpt.source}` (or Compute familiarity in the Evaluate tab)")
    return bank, ""


def evaluate_with_familiarity(checkpoint: Checkpoint | str | os.PathLike, dataset: str | os.PathLike | None = None,
                              split: str = "val", *, device: str = "cpu", batch_size: int = 256,
                              progress: Progress = NO_PROGRESS) -> EvalResult:
    """evaluate_checkpoint's result, plus each image's familiarity when the checkpoint has a feature bank."""
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    data = eval_data(ckpt, dataset, split, progress)
    model = ckpt.build_model().to(device)
    bank, why = checkpoint_bank(ckpt, model)
    if bank is None:
        result = evaluate_model(model, ckpt.classes, data, batch_size=batch_size, device=device, progress=progress)
        result.notes.append(f"familiarity unknown: {why}")
    else:
        images = ImageSet(split, data.dataset, list(data.files), np.asarray(data.labels, dtype=np.int64))
        features = extract_features(model, [images], batch_size=batch_size, views=bank_views(bank),
                                    progress=progress)
        # With their ids, training images (split train / all) are not counted as their own nearest neighbour.
        scores = familiarity_scores(bank, features, ids=list(data.files))
        result = EvalResult(list(ckpt.classes), list(data.files), np.asarray(data.labels, dtype=np.int64),
                            features.probabilities, data.source, unreadable=list(data.unreadable),
                            notes=list(data.notes), images=data.images, familiarity=scores,
                            familiarity_threshold=float(bank.calibration.threshold))
    result.checkpoint = str(checkpoint) if not isinstance(checkpoint, Checkpoint) else ""
    return result
