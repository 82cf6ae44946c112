"""Classify images with a model in memory: the same pipeline as the model's validation data (core.data.pipeline:
the checkpoint's decode rule, geometry and normalisation), so a file gets the probabilities `evaluate` gave it."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from PIL import Image

from core.checkpoints.checkpoint import Checkpoint, load_checkpoint
from core.data.pipeline import decode, image_input
from core.data.transforms import Preprocess
from core.io.images import ImageLoadError, Source


@dataclass
class Prediction:
    source: str
    top: list[tuple[str, float]] = field(default_factory=list)  # (label, probability), best first
    error: str | None = None

    def to_dict(self) -> dict:
        """Plain JSON: a probability that is not a number (a diverged model) becomes None (null)."""
        if self.error is not None:
            return {"path": self.source, "error": self.error}
        return {"path": self.source,
                "predictions": [{"label": l, "prob": round(p, 6) if math.isfinite(p) else None} for l, p in self.top]}


class Predictor:
    def __init__(self, model: nn.Module, classes: list[str], preprocess: Preprocess):
        self.model = model.eval()
        self.classes = list(classes)
        self.preprocess = preprocess

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint | str | Path) -> "Predictor":
        ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        return cls(ckpt.build_model(), ckpt.classes, ckpt.preprocess)

    @property
    def device(self) -> torch.device:
        return next((p.device for p in self.model.parameters()), torch.device("cpu"))

    def load(self, source: Source, *, name: str | None = None) -> Image.Image:
        """A file (a path or its bytes) decoded under this model's decode rule: the image `to_input` expects.
        Raises ImageLoadError naming the file."""
        return decode(source, self.preprocess.decode, self.preprocess.image_size, name=name)

    def to_input(self, image: Image.Image) -> torch.Tensor:
        """An image from `load` -> normalised batch [1, C, S, S] on the model's device."""
        return image_input(image, self.preprocess).unsqueeze(0).to(self.device)

    def probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.softmax(self.model(batch).float(), dim=1)

    def classify(self, image: Image.Image, top_k: int = 5) -> list[tuple[str, float]]:
        probs = self.probabilities(self.to_input(image))[0]
        k = max(1, min(top_k, len(self.classes)))
        values, indices = probs.topk(k)
        return [(self.classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]

    def classify_files(self, paths, top_k: int = 5) -> list[Prediction]:
        """One Prediction per path; a file that cannot be read gets an `error` and the others go on."""
        return list(self.iter_classify_files(paths, top_k))

    def iter_classify_files(self, paths, top_k: int = 5) -> Iterator[Prediction]:
        """Like classify_files, one Prediction at a time, so a caller can write each result as it comes."""
        for path in paths:
            try:
                yield Prediction(str(path), self.classify(self.load(path), top_k))
            except ImageLoadError as exc:
                yield Prediction(str(path), error=exc.reason)
