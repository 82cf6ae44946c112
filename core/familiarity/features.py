"""One feature pass: the penultimate features, the block views (views.py) and the logits of every image, all
from the same forward.

Batched through the data layer's loader, in eval mode under torch.inference_mode, one cancel check and one
progress report per batch (core.progress). Everything stays on the device until the end (one copy to the host,
not one per batch), so on a GPU the pass runs at the speed of bare inference.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from core.data import make_loader
from core.familiarity.sources import ImageSet
from core.familiarity.views import View, capture, plan_views
from core.models.hooks import model_device
from core.progress import NO_PROGRESS, Progress

SPLIT_CODES = {"train": 0, "val": 1, "other": 2}


@dataclass
class FeatureSet:
    """Rows in the order of the image sets passed in. Plain numpy, safe to hand to any thread."""

    features: np.ndarray  # float32 [N, D], as the model computes them (not normalised)
    logits: np.ndarray  # float32 [N, K]
    labels: np.ndarray  # int64 [N]
    splits: np.ndarray  # uint8 [N], SPLIT_CODES
    ids: list[str] = field(default_factory=list)
    views: dict[str, np.ndarray] = field(default_factory=dict)  # View.name -> float32 [N, d]

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
                          [self.ids[i] for i in rows], {name: v[rows] for name, v in self.views.items()})


def images_features(features: np.ndarray, views: dict[str, np.ndarray] | None = None, logits=None) -> FeatureSet:
    """A FeatureSet of images that are neither training nor validation images (a drop, predict's files)."""
    n = len(features)
    logits = np.zeros((n, 0), np.float32) if logits is None else np.asarray(logits, np.float32)
    return FeatureSet(np.asarray(features, np.float32), logits, np.zeros(n, np.int64),
                      np.full(n, SPLIT_CODES["other"], np.uint8), [""] * n, dict(views or {}))


def extract_features(model: nn.Module, sets: list[ImageSet], *, batch_size: int = 256, num_workers: int = 0,
                     views: list[View] | None = None, progress: Progress = NO_PROGRESS) -> FeatureSet:
    """Every image of `sets` through `model` (on its own device) once -> features, views and logits per image.
    views: which block views to keep (None: the model's own, views.plan_views). The model's train/eval mode is
    restored afterwards; core.errors.Cancelled is raised between batches when asked."""
    device = model_device(model)
    total = sum(len(s.dataset) for s in sets)
    feats, logits, kept = [], [], {}
    done = 0
    for image_set in sets:
        loader = make_loader(image_set.dataset, batch_size, shuffle=False, num_workers=num_workers,
                             pin_memory=device.type == "cuda")
        for inputs, _ in loader:
            progress.check_cancelled()
            inputs = inputs.to(device, non_blocking=True)
            if views is None:
                views = plan_views(model, inputs)
            f, z, rows = capture(model, inputs, views)
            feats.append(f.float())
            logits.append(z.float())
            for name, value in rows.items():
                kept.setdefault(name, []).append(value)
            done += inputs.shape[0]
            progress.update(done, total, "features")
    return _assemble(sets, feats, logits, kept)


def _assemble(sets: list[ImageSet], feats: list, logits: list, views: dict[str, list]) -> FeatureSet:
    labels = np.concatenate([s.labels for s in sets]) if sets else np.zeros(0, dtype=np.int64)
    splits = np.concatenate([np.full(len(s.labels), SPLIT_CODES.get(s.split, 2), dtype=np.uint8) for s in sets]) \
        if sets else np.zeros(0, dtype=np.uint8)
    ids = [i for s in sets for i in s.ids]
    if not feats:
        return FeatureSet(np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32), labels, splits, ids)
    return FeatureSet(torch.cat(feats).cpu().numpy(), torch.cat(logits).cpu().numpy(), labels, splits, ids,
                      {name: torch.cat(parts).cpu().numpy() for name, parts in views.items()})
