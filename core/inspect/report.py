"""`layerscope inspect`: everything the inspector shows for one image, written to a folder as PNG + JSON."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
from PIL import Image

from core.inspect.filters import first_layer_filters
from core.inspect.inspection import inspect_image
from core.inspect.mosaic import to_rgb8
from core.inspect.saliency import SaliencyUnavailable, default_cam_layer, grad_cam, overlay, saliency_map

# Small tiles (a 4x4 feature map, a 3x3 kernel) are enlarged so the PNG is readable; never past this width.
MIN_EXPORT_WIDTH = 256
MAX_EXPORT_WIDTH = 2048


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "layer"


def _enlarge(rgb: np.ndarray, min_width: int = MIN_EXPORT_WIDTH) -> np.ndarray:
    w = rgb.shape[1]
    factor = max(1, min(min_width // max(w, 1), MAX_EXPORT_WIDTH // max(w, 1)))
    if rgb.shape[0] * factor < 8:  # a 1-pixel strip: make it a visible band
        rgb = rgb.repeat(max(1, 8 // (rgb.shape[0] * factor)), axis=0)
    return rgb.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else rgb


def _save_png(rgb: np.ndarray, path: Path) -> str:
    Image.fromarray(np.ascontiguousarray(rgb)).save(path)
    return path.name


def _json_number(value: float) -> float | None:
    """Rounded for reading; NaN / inf (a diverged model) become null, since JSON has no such numbers."""
    return round(value, 6) if math.isfinite(value) else None


def _resolve_target(target, classes: list[str], predicted: int) -> int:
    if target is None:
        return predicted
    if isinstance(target, str) and not target.lstrip("-").isdigit():
        if target not in classes:
            raise ValueError(f"unknown target class {target!r}; the classes are: {', '.join(classes)}")
        return classes.index(target)
    index = int(target)
    if not 0 <= index < len(classes):
        raise ValueError(f"target class {index} is outside 0..{len(classes) - 1} ({', '.join(classes)})")
    return index


def inspect_to_folder(checkpoint_path, image_path, out_dir, target=None, cam_layer: str | None = None,
                      top_k: int = 5, scaling: str = "channel", colormap: str = "viridis") -> dict:
    """Write into `out_dir`: input.png (the model's view), one coloured mosaic PNG per layer under layers/,
    filters.png (first-layer filters or MLP templates), saliency.png (Grad-CAM overlay towards `target`,
    default the predicted class; gradient saliency for a model without convolutions) and summary.json.
    Returns the summary dict. Raises CheckpointError / ImageLoadError / ValueError with a clear message."""
    from core.checkpoints.predict import Predictor  # here, not at the top: core.checkpoints.predict imports torch-heavy modules

    predictor = Predictor.from_checkpoint(checkpoint_path)
    image = predictor.load(image_path)  # the checkpoint's decode rule, as evaluate and predict
    result = inspect_image(predictor, image, top_k=top_k, scaling=scaling, keep_activations=False)
    out = Path(out_dir)
    (out / "layers").mkdir(parents=True, exist_ok=True)

    files = {"input": _save_png(_enlarge(result.input_image), out / "input.png")}
    layers = []
    width = len(str(len(result.layers)))
    for index, view in enumerate(result.layers):
        name = f"{index:0{width}d}_{_safe(view.name)}.png"
        _save_png(_enlarge(to_rgb8(view.mosaic.image, colormap)), out / "layers" / name)
        layers.append({"name": view.name, "type": view.type, "output_shape": list(view.shape),
                       "stats": {k: _json_number(v) for k, v in view.stats.items()},
                       "grid": [view.mosaic.rows, view.mosaic.cols], "file": f"layers/{name}"})

    filters = first_layer_filters(predictor.model, scale=4)
    if filters is not None:
        files["filters"] = _save_png(_enlarge(filters), out / "filters.png")

    target_index = _resolve_target(target, predictor.classes, result.top_class)
    batch = predictor.to_input(image)
    layer = cam_layer or default_cam_layer(predictor.model)
    try:
        heat, method = grad_cam(predictor.model, batch, target_index, layer), f"grad-cam ({layer})"
    except SaliencyUnavailable:
        if cam_layer:  # the user named a layer that cannot do Grad-CAM: say so rather than swap methods
            raise
        heat, method = saliency_map(predictor.model, batch, target_index), "gradient saliency"
    files["saliency"] = _save_png(_enlarge(overlay(result.input_image, heat, alpha=0.5)), out / "saliency.png")

    summary = {
        "checkpoint": str(checkpoint_path), "image": str(image_path),
        "model": predictor.model.__class__.__name__, "classes": predictor.classes,
        "prediction": [{"label": label, "prob": _json_number(p)} for label, p in result.prediction],
        "saliency": {"method": method, "target": predictor.classes[target_index], "target_index": target_index},
        "files": files, "layers": layers,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False))
    return summary
