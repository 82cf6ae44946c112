"""Tiny models and their checkpoints for the familiarity and map tests (image sets made from arrays, the
out-of-distribution images and the shapes-without-one model are in tests/support/unfamiliar.py)."""
from __future__ import annotations

from pathlib import Path

import torch

from core.checkpoints.checkpoint import checkpoint_from_model, save_checkpoint
from core.data.transforms import Preprocess
from core.models import ModelSpec, build_model


def save_model_checkpoint(model, classes, pre: Preprocess, path: Path, name: str = "cnn", options=None) -> Path:
    spec = ModelSpec(name, len(classes), 3, pre.image_size, dict(options or {}))
    return save_checkpoint(checkpoint_from_model(model, spec, classes, pre), path)


def tiny_model(name: str = "cnn", classes: int = 5, size: int = 24, options=None, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(ModelSpec(name, classes, 3, size, dict(options or {})), load_weights=False)
