"""Classify image files and score their familiarity from ONE forward each (`layerscope predict`).

A checkpoint with a bank beside it (best.pt -> best.familiarity.npz) gives each image a Familiarity; one
without gives None ("familiarity unknown", `"familiarity": null` in predict's JSON). A file that cannot be
read costs its own result only.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from core.checkpoints.predict import Prediction, Predictor
from core.familiarity.jobs import score_inputs
from core.familiarity.scoring import Familiarity
from core.familiarity.bank import FeatureBank
from core.io.images import ImageLoadError, load_image

UNFAMILIAR_WORD = "UNFAMILIAR"  # what plain `predict` adds to the line of an image unlike the training images


@dataclass
class ScoredPrediction:
    prediction: Prediction
    familiarity: Familiarity | None  # None: no bank, the file could not be read, or the model gave no numbers

    def to_dict(self) -> dict:
        """predict --json's object: the prediction's keys and "familiarity" (an object, or null)."""
        out = self.prediction.to_dict()
        familiarity = self.familiarity.to_dict() if self.familiarity is not None else None
        out["familiarity"] = familiarity if familiarity is None or _finite(familiarity) else None
        return out


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def predict_files(predictor: Predictor, bank: FeatureBank | None, paths, top_k: int = 5
                  ) -> Iterator[ScoredPrediction]:
    """One ScoredPrediction per path, as each is done."""
    k = max(1, min(top_k, len(predictor.classes)))
    for path in paths:
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            yield ScoredPrediction(Prediction(str(path), error=exc.reason), None)
            continue
        scored = score_inputs(predictor.model, bank, predictor.to_input(image))
        values, indices = torch.from_numpy(scored.probabilities[0]).topk(k)
        top = [(predictor.classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]
        yield ScoredPrediction(Prediction(str(path), top), scored.familiarity[0] if scored.familiarity else None)
