"""Tiny shapes folders for the labelling and data-curve tests: a labelled dataset (one sub-folder per class),
an unlabelled pool drawn from the same shapes, and a checkpoint trained on the dataset for one epoch."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.data.shapes import SHAPE_CLASSES, make_shapes

SIZE = 16


def write_shapes_dataset(root: Path, count: int = 120, seed: int = 0, classes: int = 3) -> Path:
    images, labels = make_shapes(count * len(SHAPE_CLASSES) // classes, image_size=SIZE, seed=seed)
    for i, (image, label) in enumerate(zip(images, labels)):
        if label >= classes:
            continue
        folder = root / SHAPE_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"img{i:04d}.png")
    return root


def write_pool(root: Path, count: int = 30, seed: int = 99) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    images, _ = make_shapes(count, image_size=SIZE, seed=seed)
    for i, image in enumerate(images):
        Image.fromarray(image).save(root / f"photo{i:03d}.png")
    return root


def train_checkpoint(dataset: Path, run: Path, epochs: int = 1) -> Path:
    from core.cli.main import main

    assert main(["train", "--dataset", str(dataset), "--image-size", str(SIZE), "--epochs", str(epochs),
                 "--model", "mlp", "--hidden", "32", "--batch-size", "32", "--quiet", "--out", str(run)]) == 0
    return run / "best.pt"
