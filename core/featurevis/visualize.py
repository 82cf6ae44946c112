"""Feature visualization of a checkpoint's units, with sanity numbers and a cache: what the CLI's
`layerscope visualize` and the Dossier's synthesised pictures call.

    visualize_units("run/best.pt", "features.0", units="0-15", out_dir="vis/")     # channels of a layer
    visualize_units("run/best.pt", class_="circle", out_dir="vis/")                # an output class
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from core.catalog import VIS_REAL_IMAGES
from core.checkpoints.schema import weights_checksum
from core.data.transforms import Preprocess
from core.featurevis import sanity
from core.featurevis.optimize import VisSettings, normaliser, synthesize, to_uint8
from core.featurevis.pictures import UnitPicture, VisResult
from core.featurevis.store import StoreError, cache_folder, layer_id, load_result, save_result
from core.featurevis.units import (OUTPUT, UnitError, class_index, describe_layer, layer_output, parse_units,
                                   strongest_position, unit_values)
from core.models.hooks import evaluating, model_device
from core.progress import NO_PROGRESS, Progress, share

DEFAULT_REAL_IMAGES = VIS_REAL_IMAGES.default  # real images searched for each unit's top activation
OPTIMISE_SHARE = 0.9  # of the progress bar; the pass over real images takes the rest


@dataclass(frozen=True)
class Target:
    layer: str  # a module name, or OUTPUT
    kind: str  # "conv", "linear" or "output"
    units: list[int]
    labels: list[str]
    reads_picture: bool  # a first layer: its weights are compared with the pictures


def resolve_target(model: nn.Module, pre: Preprocess, classes: list[str], layer: str | None = None,
                   units: str | list[int] | None = None, class_: str | int | list | None = None) -> Target:
    """The units asked for: `class_` (names or indices) for output classes; otherwise `units` of `layer`
    ('0-15', a list, or None for every unit)."""
    if class_ is not None:
        wanted = class_ if isinstance(class_, (list, tuple)) else [class_]
        picked = sorted({class_index(classes, c) for c in wanted})
        return Target(OUTPUT, "output", picked, [classes[i] for i in picked], False)
    if layer is None:
        raise UnitError("name a layer (or a class) to visualise")
    info = describe_layer(model, layer, (pre.channels, pre.image_size, pre.image_size))
    if info.kind == "output":
        picked = list(range(info.units)) if units is None else _units(units, info.units)
        return Target(OUTPUT, "output", picked, [classes[i] if i < len(classes) else f"class {i}" for i in picked],
                      False)
    picked = list(range(info.units)) if units is None else _units(units, info.units)
    noun = "channel" if info.kind == "conv" else "unit"
    return Target(info.name, info.kind, picked, [f"{noun} {u}" for u in picked], info.reads_picture)


def _units(units: str | list[int], count: int) -> list[int]:
    if isinstance(units, str):
        return parse_units(units, count)
    bad = [u for u in units if not 0 <= int(u) < count]
    if bad:
        raise UnitError(f"unit {bad[0]} does not exist; this layer has {count} (0-{count - 1})")
    return sorted({int(u) for u in units})


def visualize_model(model: nn.Module, pre: Preprocess, classes: list[str], target: Target,
                    settings: VisSettings = VisSettings(), progress: Progress = NO_PROGRESS) -> list[UnitPicture]:
    """Optimise one picture per unit of `target`, then measure it: activation, strongest position and the
    pixels it sees, and (first layers) the weight correlation or (classes) the model's verdict."""
    if not target.units:
        return []
    syn = synthesize(model, pre, target.layer, target.units, settings, progress, first_layer=target.reads_picture)
    return measure_pictures(model, pre, classes, target, syn.pictures)


def measure_pictures(model: nn.Module, pre: Preprocess, classes: list[str], target: Target,
                     pictures: torch.Tensor) -> list[UnitPicture]:
    device = model_device(model)
    x = normaliser(pre, device)(pictures.to(device))
    units = torch.tensor(target.units, dtype=torch.long)
    with evaluating(model), torch.no_grad():
        out = layer_output(model, target.layer, x)
        activation = unit_values(out, units).float().cpu().tolist()
        positions = strongest_position(out, units)
        probs = torch.softmax(model(x).float(), dim=1).cpu() if target.kind == "output" else None
    boxes = _field_boxes(model, pre, target, positions)
    modules = dict(model.named_modules())
    correlations = sanity.weight_correlations(modules[target.layer], x, target.units, positions) \
        if target.reads_picture else [None] * len(target.units)
    images = to_uint8(pictures.cpu())
    result = []
    for i, (unit, label) in enumerate(zip(target.units, target.labels)):
        picture = UnitPicture(unit, label, images[i], activation[i], positions[i], boxes[i],
                              weight_correlation=correlations[i])
        if probs is not None:
            picture.class_probability = float(probs[i, unit])
            best = int(probs[i].argmax())
            picture.predicted_class = classes[best] if best < len(classes) else str(best)
        result.append(picture)
    return result


def _field_boxes(model, pre: Preprocess, target: Target, positions) -> list[tuple[int, int, int, int] | None]:
    """The input pixels each strongest position sees, measured as the Dossier measures its crops."""
    if target.kind != "conv" or all(p is None for p in positions):
        return [None] * len(positions)
    from core.dossier.receptive import measure_receptive_fields

    size = pre.image_size
    try:
        fields = measure_receptive_fields(model, {target.layer: dict(model.named_modules())[target.layer]},
                                          (pre.channels, size, size))
    except RuntimeError:  # a layer whose output is changed in place later (torchvision's ReLU(inplace=True))
        return [None] * len(positions)
    field = fields.get(target.layer)
    return [None if field is None or p is None else field.box(p[0], p[1], size, size) for p in positions]


def attach_real_tops(pictures: list[UnitPicture], real: sanity.RealTop | None) -> None:
    for picture in pictures:
        value = None if real is None else real.values.get(picture.unit)
        picture.real_activation = value
        picture.real_index = None if real is None else real.indices.get(picture.unit)
        picture.ratio = sanity.ratio(picture.activation, value)


def visualize_units(checkpoint, layer: str | None = None, units: str | list[int] | None = None,
                    class_: str | int | list | None = None, out_dir: str | Path | None = None, *,
                    dataset=None, topk=None, cache_root: str | Path | None = None,
                    settings: VisSettings = VisSettings(), real_images: int = DEFAULT_REAL_IMAGES,
                    device: str = "cpu", progress: Progress = NO_PROGRESS) -> VisResult:
    """Pictures for units of `layer` (or output classes `class_`) of a checkpoint (a path or a Checkpoint).

    dataset: where to find each unit's top real image: a torch Dataset of (tensor, label), a folder or
    built-in name, or None for the data the checkpoint was trained on; topk: the Dossier's TopKResult (or
    its topk.npz path), used instead when it has the layer. real_images=0 skips the real images.
    cache_root: e.g. RUN/featurevis; pictures already there for these weights and settings are reused.
    out_dir: PNGs, sanity.json and pictures.npz are written to out_dir/<layer>/.
    progress: core.progress; a cancel stops it within one optimisation step (core.errors.Cancelled)."""
    from core.checkpoints.checkpoint import Checkpoint, load_checkpoint

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    model = ckpt.build_model().to(device)
    pre, classes = ckpt.preprocess, list(ckpt.classes)
    target = resolve_target(model, pre, classes, layer, units, class_)
    checksum = weights_checksum(ckpt.model_state)
    result = VisResult(target.layer, target.kind, checksum, settings.to_dict(), settings.key(pre.image_size),
                       pre.image_size, pre.channels)
    folder = cache_folder(cache_root, checksum, target.layer, result.settings_key) if cache_root else None
    cached = _load_cache(folder, result)
    have = {p.unit: p for p in (cached.pictures if cached else [])}
    todo = [i for i, u in enumerate(target.units) if u not in have]
    fresh = visualize_model(model, pre, classes, _subset(target, todo), settings,
                            share(progress, 0.0, OPTIMISE_SHARE))
    pictures = {**have, **{p.unit: p for p in fresh}}
    wanted = [pictures[u] for u in target.units]
    result.cached_units = [u for u in target.units if u in have]
    real = _real_tops(model, ckpt, target, dataset, topk, real_images, cached, fresh, progress, result)
    if real is not None:
        attach_real_tops(wanted, real)
        result.real_source = real.source
    elif cached is not None and not fresh:
        result.real_source = cached.real_source
    progress.update(1, 1, "done")
    if folder is not None:
        result.pictures = sorted(pictures.values(), key=lambda p: p.unit)
        try:
            result.files += save_result(result, folder)
        except OSError as exc:  # the cache is a bonus: a read-only run folder still gets its pictures
            result.notes.append(f"the pictures could not be cached in {folder}: {exc.strerror or exc}")
    result.pictures = wanted
    if out_dir is not None:
        result.files += save_result(result, Path(out_dir) / layer_id(target.layer))
    return result


def _subset(target: Target, indices: list[int]) -> Target:
    return Target(target.layer, target.kind, [target.units[i] for i in indices],
                  [target.labels[i] for i in indices], target.reads_picture)


def _load_cache(folder: Path | None, result: VisResult) -> VisResult | None:
    if folder is None:
        return None
    expect = {"weights_checksum": result.weights_checksum, "layer": result.layer, "kind": result.kind,
              "settings_key": result.settings_key, "image_size": result.image_size, "channels": result.channels}
    try:
        return load_result(folder, expect)
    except StoreError as exc:
        result.notes.append(f"ignored a damaged cache file: {exc}")
        return None


def _real_tops(model, ckpt, target: Target, dataset, topk, real_images: int, cached: VisResult | None,
               fresh: list[UnitPicture], progress: Progress, result: VisResult) -> sanity.RealTop | None:
    """Each unit's top real activation: from the Dossier when it has the layer, else one pass over real
    images; None (with a note saying why) when there are none to search. Reused from the cache when the
    cached pictures already carry them and nothing new was optimised."""
    if real_images <= 0:
        result.notes.append("no real images searched (real_images=0): no activation ratio")
        return None
    if topk is not None:
        found = sanity.real_top_from_dossier(_open_topk(topk), target.layer, target.units)
        if found is not None:
            return found
    if cached is not None and not fresh and cached.real_source is not None:
        return None  # the cached pictures keep their own real tops
    data, source = _real_dataset(ckpt, dataset, result)
    if data is None:
        return None
    return sanity.real_top_from_dataset(model, data, target.layer, target.units, source=source,
                                        max_images=real_images, progress=share(progress, OPTIMISE_SHARE, 1.0))


def _open_topk(topk):
    if isinstance(topk, (str, Path)):
        from core.dossier.store import load_topk

        return load_topk(topk)[0]
    return topk


def _real_dataset(ckpt, dataset, result: VisResult):
    """(dataset, description) of the real images to search, or (None, None) with a note."""
    if isinstance(dataset, torch.utils.data.Dataset):
        return dataset, "the given images"
    from core.data import DatasetError
    from core.evaluate.source import EvaluationError, eval_data

    try:
        data = eval_data(ckpt, dataset, "val" if dataset is None else "all")
    except (EvaluationError, DatasetError, OSError) as exc:
        result.notes.append(f"no real images to compare with ({exc}): no activation ratio")
        return None, None
    return data.dataset, data.source
