"""A tiny trained shapes run and a tiny image folder, shared by the evaluate / export / label-issue tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.data import DataSpec
from core.data.shapes import SHAPE_CLASSES, make_shapes
from core.training.session import RunSettings, prepare_trainer
from core.training.config import TrainConfig


def train_tiny_run(run_dir: Path, dataset: str = "shapes", epochs: int = 2, evaluate_at_end: bool = True,
                   image_size: int | None = None) -> Path:
    settings = RunSettings(
        data=DataSpec(name=dataset, train_count=240, val_count=80, seed=1, image_size=image_size),
        model_name="cnn", model_options={"channels": 8, "blocks": 2},
        train=TrainConfig(epochs=epochs, batch_size=32, lr=3e-3, seed=1, evaluate_at_end=evaluate_at_end))
    prepare_trainer(settings, run_dir).fit()
    return run_dir


def write_shapes_folder(root: Path, per_class: int = 12, size: int = 32, classes=None, seed: int = 0) -> Path:
    """Class folders of PNG shapes (drawn by the built-in generator): a real folder dataset in tmp."""
    images, labels = make_shapes(per_class * len(SHAPE_CLASSES) * 2, size, seed)
    wanted = classes or list(SHAPE_CLASSES)
    counts = {c: 0 for c in wanted}
    for i, (img, label) in enumerate(zip(images, labels)):
        name = SHAPE_CLASSES[int(label)]
        if name not in counts or counts[name] >= per_class:
            continue
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(img)).save(folder / f"{name}_{i:04d}.png")
        counts[name] += 1
    return root
