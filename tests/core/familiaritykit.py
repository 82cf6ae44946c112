"""Shared set-up for the familiarity and map tests: tiny models, image sets made from arrays, checkpoints."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.checkpoints.checkpoint import checkpoint_from_model, save_checkpoint
from core.data.datasets import ArrayDataset
from core.data.shapes import SHAPE_CLASSES, make_shapes
from core.data.transforms import Preprocess
from core.familiarity.sources import ImageSet
from core.models import ModelSpec, build_model


def preprocess_for(images_nhwc: np.ndarray) -> Preprocess:
    x = torch.from_numpy(images_nhwc).float().div_(255.0)
    mean = tuple(round(float(v), 4) for v in x.mean(dim=(0, 1, 2)))
    std = tuple(round(float(v), 4) for v in x.std(dim=(0, 1, 2)).clamp_min(1e-3))
    return Preprocess(image_size=images_nhwc.shape[1], channels=3, mean=mean, std=std)


def image_set(split: str, images_nhwc: np.ndarray, labels: np.ndarray, pre: Preprocess, name: str = "shapes"
              ) -> ImageSet:
    tensor = torch.from_numpy(np.ascontiguousarray(images_nhwc)).permute(0, 3, 1, 2).contiguous()
    dataset = ArrayDataset(tensor, torch.from_numpy(np.asarray(labels, dtype=np.int64)), pre)
    return ImageSet(split, dataset, [f"{name}:{split}/{i:05d}" for i in range(len(labels))], labels)


def shapes_without(left_out: str, count: int, size: int, seed: int):
    """Shapes images of every class but `left_out` (labels renumbered), and the left-out ones."""
    images, labels = make_shapes(count, size, seed)
    out = SHAPE_CLASSES.index(left_out)
    kept = labels != out
    classes = [c for c in SHAPE_CLASSES if c != left_out]
    renumber = np.array([classes.index(c) if c != left_out else -1 for c in SHAPE_CLASSES])
    return images[kept], renumber[labels[kept]], images[~kept], classes


def save_model_checkpoint(model, classes, pre: Preprocess, path: Path, name: str = "cnn", options=None) -> Path:
    spec = ModelSpec(name, len(classes), 3, pre.image_size, dict(options or {}))
    return save_checkpoint(checkpoint_from_model(model, spec, classes, pre), path)


def tiny_model(name: str = "cnn", classes: int = 5, size: int = 24, options=None, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(ModelSpec(name, classes, 3, size, dict(options or {})), load_weights=False)
