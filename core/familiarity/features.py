"""One feature pass: the penultimate features and the logits of every image, from the same forward.

Batched through the data layer's loader, in eval mode under torch.inference_mode, one cancel check and one
progress report per batch. Features and logits stay on the device until the end (one copy to the host, not
one per batch), so on a GPU the pass runs at the speed of bare inference.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from core.data import make_loader
from core.models.hooks import features_and_output
from core.familiarity._progress import steps
from core.familiarity.sources import ImageSet

SPLIT_CODES = {"train": 0, "val": 1, "other": 2}


@dataclass
class FeatureSet:
    """Rows in the order of the image sets passed in. Plain numpy, safe to hand to any thread."""

    features: np.ndarray  # float32 [N, D], as the model computes them (not normalised)
    logits: np.ndarray  # float32 [N, K]
    labels: np.ndarray  # int64 [N]
    splits: np.ndarray  # uint8 [N], SPLIT_CODES
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def probabilities(self) -> np.ndarray:
        return torch.softmax(torch.from_numpy(self.logits), dim=1).numpy()

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(axis=1) if len(self) else np.zeros(0, dtype=np.int64)

    def split(self, name: str) -> "FeatureSet":
        return self.subset(np.flatnonzero(self.splits == SPLIT_CODES[name]))

    def subset(self, rows: np.ndarray) -> "FeatureSet":
        rows = np.asarray(rows, dtype=np.int64)
        return FeatureSet(self.features[rows], self.logits[rows], self.labels[rows], self.splits[rows],
                          [self.ids[i] for i in rows])


def _model_device(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def extract_features(model: nn.Module, sets: list[ImageSet], *, batch_size: int = 256, num_workers: int = 0,
                     progress=None, cancelled=None) -> FeatureSet:
    """Every image of `sets` through `model` (on its own device) once -> features and logits per image.
    The model's train/eval mode is restored afterwards; Cancelled is raised between batches when asked."""
    tracker = steps(progress, cancelled)
    device = _model_device(model)
    total = sum(len(s.dataset) for s in sets)
    feats, logits = [], []
    done = 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for image_set in sets:
                loader = make_loader(image_set.dataset, batch_size, shuffle=False, num_workers=num_workers,
                                     pin_memory=device.type == "cuda")
                for inputs, _ in loader:
                    tracker.check("the feature pass")
                    f, z = features_and_output(model, inputs.to(device, non_blocking=True))
                    feats.append(f.float())
                    logits.append(z.float())
                    done += inputs.shape[0]
                    tracker.report(done, total, "features")
    finally:
        model.train(was_training)
    return _assemble(sets, feats, logits)


def _assemble(sets: list[ImageSet], feats: list, logits: list) -> FeatureSet:
    labels = np.concatenate([s.labels for s in sets]) if sets else np.zeros(0, dtype=np.int64)
    splits = np.concatenate([np.full(len(s.labels), SPLIT_CODES.get(s.split, 2), dtype=np.uint8) for s in sets]) \
        if sets else np.zeros(0, dtype=np.uint8)
    ids = [i for s in sets for i in s.ids]
    if not feats:
        return FeatureSet(np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32), labels, splits, ids)
    return FeatureSet(torch.cat(feats).cpu().numpy(), torch.cat(logits).cpu().numpy(), labels, splits, ids)
