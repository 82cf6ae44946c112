"""Photo-like JPEG folders and a model whose probabilities move with small input changes, for the one-pipeline
tests: a JPEG large enough for reduced-scale decoding to matter, and a checkpoint that shows it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def photo(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """Smooth colour blobs plus fine grain: like a photo, it looks different decoded at 1/4 scale."""
    rng = np.random.default_rng(seed)
    w, h = size
    coarse = rng.integers(0, 256, (h // 40 + 1, w // 40 + 1, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC)
    grain = rng.normal(0, 25, (h, w, 3))
    pixels = np.clip(np.asarray(base, dtype=np.float64) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).filter(ImageFilter.SMOOTH)


def write_jpeg_folder(root: Path, classes=("cats", "dogs"), per_class: int = 4, size=(480, 360)) -> Path:
    """root/CLASS/NN.jpg, photo-like JPEGs of `size` (quality 90)."""
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photo(100 * c + i, size).save(root / name / f"{i:02d}.jpg", quality=90)
    return root


def sensitive_checkpoint(classes, image_size: int = 32, seed: int = 0):
    """A small cnn with seeded random weights and a sharpened output layer: a few pixel values' difference in
    its input moves its probabilities by about 1e-3, a hundred times the tolerance of 1e-5."""
    import torch

    from core.checkpoints.checkpoint import checkpoint_from_model
    from core.data.transforms import Preprocess
    from core.models import ModelSpec, build_model

    torch.manual_seed(seed)
    spec = ModelSpec("cnn", len(classes), 3, image_size, {"channels": 8, "blocks": 2})
    model = build_model(spec, load_weights=False).eval()
    with torch.no_grad():
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.mul_(3.0)
    pre = Preprocess(image_size=image_size, channels=3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    return checkpoint_from_model(model, spec, list(classes), pre)
