"""Save and open a TopKResult as one compact file: RUN/dossier/topk.npz (indices, locations, values; no
image copies) plus, in the same file, a JSON header (layer names, kinds, receptive fields, image files)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.dossier.receptive import ReceptiveField
from core.dossier.topk import LayerTopK, TopKResult
from core.runs.layout import RunLayout
from core.errors import LayerscopeError
from core.io.atomic import atomic_write

FORMAT_VERSION = 1


class DossierFileError(LayerscopeError):
    """A dossier file cannot be read; the message names it and says what to do."""


def topk_path(run_dir: str | Path) -> Path:
    return RunLayout(run_dir).topk


def save_topk(result: TopKResult, path: str | Path, files: list[str] | None = None,
              labels: list[int] | None = None, extra: dict | None = None) -> Path:
    """Written atomically (temp + rename): a reader never sees half a file."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, layer in enumerate(result.layers.values()):
        arrays[f"{i}.values"], arrays[f"{i}.indices"] = layer.values, layer.indices
        arrays[f"{i}.locations"] = layer.locations
        if layer.class_mean is not None:
            arrays[f"{i}.class_mean"] = layer.class_mean
        layers.append({"name": layer.name, "kind": layer.kind, "fmap_size": list(layer.fmap_size),
                       "ranked_by": layer.ranked_by,
                       "receptive_field": layer.receptive_field.to_dict() if layer.receptive_field else None})
    header = {"version": FORMAT_VERSION, "k": result.k, "images": result.images, "skipped": result.skipped,
              "classes": result.classes, "layers": layers, "files": files or [], "labels": labels or [],
              **(extra or {})}
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))


def load_topk(path: str | Path) -> tuple[TopKResult, dict]:
    """(result, header). The header holds files, labels and anything saved as extra."""
    path = Path(path)
    if not path.exists():
        raise DossierFileError(f"{path}: no top-images file yet; compute it (layerscope dossier, or the "
                               "Channels view's Compute button)")
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode("utf-8"))
            layers = {}
            for i, meta in enumerate(header["layers"]):
                rf = meta.get("receptive_field")
                layers[meta["name"]] = LayerTopK(
                    meta["name"], meta["kind"], data[f"{i}.values"], data[f"{i}.indices"], data[f"{i}.locations"],
                    tuple(meta["fmap_size"]), data[f"{i}.class_mean"] if f"{i}.class_mean" in data else None,
                    ReceptiveField.from_dict(rf) if rf else None, meta.get("ranked_by", "activation"))
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise DossierFileError(f"{path}: not a readable top-images file ({exc}); delete it and compute it again") from None
    return TopKResult(layers, int(header["k"]), int(header["images"]), dict(header.get("skipped", {})),
                      list(header.get("classes", []))), header
