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
from core.io.small_files import ListOf, MapOf, Obj, OneOf, SmallFileError, check, parse_json
from core.io.small_npz import read_npz

FORMAT_VERSION = 1


class DossierFileError(LayerscopeError):
    """A dossier file cannot be read; the message names it and says what to do."""


def topk_path(run_dir: str | Path) -> Path:
    return RunLayout(run_dir).topk


def save_topk(result: TopKResult, path: str | Path, files: list[str] | None = None,
              labels: list[int] | None = None, extra: dict | None = None, *,
              inside: str | Path | None = None) -> Path:
    """Written atomically (temp + rename): a reader never sees half a file. `inside`: the run folder it belongs
    to (RUN/dossier/ is then never written through when it is a link; core.io.atomic)."""
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
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays), inside=inside)


_FIELD = Obj(required={k: float for k in ("height", "width", "stride_y", "stride_x", "origin_y", "origin_x")})
_LAYER = Obj(required={"name": str, "kind": OneOf(("conv", "linear")), "fmap_size": ListOf(int, 2)},
             optional={"ranked_by": str, "receptive_field": None})  # null or _FIELD: checked in _layer
HEADER = Obj(required={"k": int, "images": int, "layers": ListOf(_LAYER, 100_000)},
             optional={"version": int, "skipped": MapOf(str), "classes": ListOf(str), "files": ListOf(str),
                       "labels": ListOf((int, type(None))), "split": str, "computed_from": str})


def load_topk(path: str | Path) -> tuple[TopKResult, dict]:
    """(result, header). The header holds files, labels and anything saved as extra.

    The file may come from a shared run folder: it is read by the small-file readers (no FIFO, a size cap,
    zip members' sizes checked before inflating, no pickles), its header against a schema, and each layer's
    arrays must have the shapes the views index them with (indices within the images)."""
    path = Path(path)
    try:
        arrays = read_npz(path)
    except SmallFileError as exc:
        if exc.kind == "missing":
            raise DossierFileError(f"{path}: no top-images file yet; compute it (layerscope dossier, or the "
                                   "Channels view's Compute button)") from None
        raise DossierFileError(f"{exc}; delete it and compute it again") from None
    try:
        if "header" not in arrays:
            raise ValueError("no header")
        header = parse_json(arrays["header"].astype(np.uint8, copy=False).tobytes(), path, schema=HEADER)
        for meta in header["layers"]:
            if meta.get("receptive_field") is not None:
                check(meta["receptive_field"], _FIELD, path, f"layer {meta['name']!r}: receptive_field")
        layers = {meta["name"]: _layer(arrays, i, meta, header) for i, meta in enumerate(header["layers"])}
    except (SmallFileError, ValueError, KeyError, TypeError) as exc:
        raise DossierFileError(f"{path}: not a readable top-images file ({str(exc)[:200]}); delete it and compute "
                               "it again") from None
    return TopKResult(layers, header["k"], header["images"], dict(header.get("skipped", {})),
                      list(header.get("classes", []))), header


def _layer(arrays: dict, i: int, meta: dict, header: dict) -> LayerTopK:
    values, indices, locations = arrays[f"{i}.values"], arrays[f"{i}.indices"], arrays[f"{i}.locations"]
    class_mean = arrays.get(f"{i}.class_mean")
    channels, k = values.shape if values.ndim == 2 else (-1, -1)
    if channels < 0 or indices.shape != (channels, k) or locations.shape != (channels, k, 2):
        raise ValueError(f"layer {meta['name']!r}: arrays of shapes {values.shape}, {indices.shape}, "
                         f"{locations.shape} do not fit together")
    if not (np.issubdtype(indices.dtype, np.integer) and np.issubdtype(locations.dtype, np.integer)):
        raise ValueError(f"layer {meta['name']!r}: indices and locations must be whole numbers")
    if indices.size and (indices.min() < -1 or indices.max() >= header["images"]):
        raise ValueError(f"layer {meta['name']!r}: an image index outside 0..{header['images'] - 1}")
    fmap = tuple(meta["fmap_size"])
    if len(fmap) != 2 or min(fmap) < 1:
        raise ValueError(f"layer {meta['name']!r}: a feature map of size {fmap}")
    if locations.size and (locations.min() < 0 or locations[..., 0].max() >= fmap[0]
                           or locations[..., 1].max() >= fmap[1]):
        raise ValueError(f"layer {meta['name']!r}: a location outside its {fmap[0]} x {fmap[1]} feature map")
    if class_mean is not None and (class_mean.ndim != 2 or class_mean.shape[0] != channels):
        raise ValueError(f"layer {meta['name']!r}: class means of shape {class_mean.shape}")
    rf = meta.get("receptive_field")
    return LayerTopK(meta["name"], meta["kind"], values, indices, locations, fmap, class_mean,
                     ReceptiveField.from_dict(rf) if rf else None, meta.get("ranked_by", "activation"))
