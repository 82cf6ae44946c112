"""A tiny learnable image folder and a model trained on it, shared by the dossier tests.

The shapes of the built-in set come in random colours and need thousands of steps; here each class is one
shape in one colour family, which a tiny CNN learns in a second, so "has it learned?" can be asserted."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.data import DataSpec
from core.training.session import RunSettings, prepare_trainer
from core.training.config import TrainConfig

CLASSES = {"circle": (220, 40, 40), "square": (40, 200, 40), "triangle": (40, 60, 230)}


def write_learnable_folder(root: Path, per_class: int = 24, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for name, colour in CLASSES.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 60, 3)))
            draw = ImageDraw.Draw(img)
            r = rng.uniform(size * 0.15, size * 0.3)
            cx, cy = rng.uniform(r, size - r, 2)
            fill = tuple(int(np.clip(v + rng.integers(-30, 30), 0, 255)) for v in colour)
            if name == "circle":
                draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
            elif name == "square":
                draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
            else:
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
            img.save(root / name / f"{name}_{i:03d}.png")
    return root


def train_learnable_run(run_dir: Path, folder: Path, epochs: int = 4, **config):
    settings = RunSettings(
        data=DataSpec(name=str(folder), image_size=32, val_fraction=0.25, seed=1),
        model_name="cnn", model_options={"channels": 8, "blocks": 2},
        train=TrainConfig(epochs=epochs, batch_size=16, lr=3e-3, seed=1, evaluate_at_end=False, **config))
    trainer = prepare_trainer(settings, run_dir)
    trainer.fit()
    return run_dir, trainer
