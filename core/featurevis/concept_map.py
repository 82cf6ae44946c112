"""Where a concept sits in one image: the concept activation vector projected on the layer's activations,
position by position (sum over channels of activation x vector), upsampled to the image like a saliency map.
The vector comes from a concept test (ConceptScore.cav, or the npz that concept_report writes)."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.featurevis.units import layer_output
from core.io.safefile import FileRefused, read_regular_file
from core.models.hooks import evaluating, model_device

MAX_CAV_FILE_BYTES = 64 * 1024 * 1024


def concept_map(model: nn.Module, layer: str, image: torch.Tensor, cav: np.ndarray) -> np.ndarray | None:
    """[H, W] float map at the image's size (`image`: one normalised input [C, H, W]); positive where the
    layer's activations point along the concept. None for a layer without a spatial map (a linear layer)."""
    with evaluating(model), torch.no_grad():
        out = layer_output(model, layer, image.unsqueeze(0).to(model_device(model)))[0].float()
    if out.dim() != 3:
        return None
    vector = torch.as_tensor(np.asarray(cav, dtype=np.float32)).to(out.device)
    if vector.numel() != out.numel():
        raise ValueError(f"the concept vector has {vector.numel()} values, layer {layer!r} gives {out.numel()}: "
                         "it was made for another layer or input size")
    contribution = (out * vector.view_as(out)).sum(dim=0)  # [h, w]
    size = image.shape[-2:]
    return F.interpolate(contribution[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].cpu().numpy()


def load_cavs(path: str | Path) -> dict[str, np.ndarray]:
    """{concept: vector} from a concept test's npz, read safely (size cap, no pickles, shapes checked)."""
    try:
        data = read_regular_file(path, MAX_CAV_FILE_BYTES)
    except FileRefused as exc:
        raise ValueError(f"{path}: {exc.reason}") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names = json.loads(bytes(npz["names"]).decode("utf-8"))
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError("names should be a list of concept names")
            vectors = {n: np.asarray(npz[f"cav{i}"], dtype=np.float32) for i, n in enumerate(names) if f"cav{i}" in npz}
    except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable concept-vector file ({exc})") from None
    if any(v.ndim != 1 or not np.isfinite(v).all() for v in vectors.values()):
        raise ValueError(f"{path}: a concept vector is not a finite 1-D array")
    return vectors
