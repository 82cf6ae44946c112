"""Which unit a picture is for, and how strongly a batch of pictures excites it.

A target is a layer (any sub-module whose output is [N, C, H, W] or [N, C]) and a unit in it: a channel of a
conv layer, a unit of a linear layer, or an output class (the model's own output). A channel's activation is
its spatial maximum, the value the Dossier ranks its top images by (core/dossier/topk.py), so the sanity
ratio compares like with like.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn as nn

from core.errors import LayerscopeError
from core.models.hooks import Hooks, evaluating, model_device

OUTPUT = "output"  # the layer name of a class target: the model's own output (its logits)
OBJECTIVES = ("max", "mean")  # a channel's strongest position (the Dossier's measure) or Lucid's channel mean


class UnitError(LayerscopeError, ValueError):
    """A layer or unit that cannot be visualised; the message says which and what there is instead."""


class _Reached(Exception):
    """Raised from the watching hook to end the forward pass at the target layer: the layers after it cost time
    only (a deep layer of resnet18 at 224 px is reached in a fraction of the whole pass, and the optimisation
    makes hundreds of passes). core.models.hooks.Hooks lets a hook's exception through, so no hook of our own is
    needed: this exception and the `try` in layer_output are the whole of it."""


@dataclass(frozen=True)
class LayerInfo:
    name: str  # OUTPUT for class targets
    kind: str  # "conv" (a [N, C, H, W] output), "linear" ([N, C]) or "output" (the classes)
    units: int  # channels, units or classes
    reads_picture: bool  # its input is the picture itself (perhaps flattened): a first layer
    module_type: str


def layer_output(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The output of `layer` for `x` (the model's output for OUTPUT); the pass stops at that layer."""
    if layer == OUTPUT:
        return model(x)
    modules = dict(model.named_modules())
    if layer not in modules:
        raise UnitError(f"the model has no layer named {layer!r}; its layers: {', '.join(visualisable_layers(model))}")
    captured: list[torch.Tensor] = []

    def keep(_name, _inputs, output):
        captured.append(output[0] if isinstance(output, (tuple, list)) else output)
        raise _Reached

    with Hooks({layer: modules[layer]}, keep):
        try:
            model(x)
        except _Reached:
            pass
    if not captured:
        raise UnitError(f"layer {layer!r} is never called in the model's forward pass")
    return captured[0]


def unit_values(output: torch.Tensor, units: torch.Tensor, objective: str = "max", margin: int = 0) -> torch.Tensor:
    """[B] activation of unit units[b] for picture b: a channel's spatial max (or mean), a unit's value.
    `margin` leaves out that many positions at each edge of a map (see optimize.py)."""
    rows = torch.arange(output.shape[0], device=output.device)
    picked = output[rows, units.to(output.device)]
    if picked.dim() == 1:
        return picked
    h, w = picked.shape[-2:]
    if margin > 0 and h > 2 * margin and w > 2 * margin:
        picked = picked[:, margin:h - margin, margin:w - margin]
    flat = picked.flatten(1)
    return flat.amax(dim=1) if objective == "max" else flat.mean(dim=1)


def every_unit_value(output: torch.Tensor, units: list[int]) -> torch.Tensor:
    """[N, len(units)]: each picture's activation of each of `units` (a channel's spatial max)."""
    picked = output[:, units]
    return picked.flatten(2).amax(dim=2) if picked.dim() == 4 else picked


def strongest_position(output: torch.Tensor, units: torch.Tensor) -> list[tuple[int, int] | None]:
    """(y, x) of each picture's strongest position in its channel's map; None for linear outputs."""
    if output.dim() != 4:
        return [None] * output.shape[0]
    rows = torch.arange(output.shape[0], device=output.device)
    maps = output[rows, units.to(output.device)]
    flat = maps.flatten(1).argmax(dim=1).tolist()
    width = maps.shape[-1]
    return [(i // width, i % width) for i in flat]


def describe_layer(model: nn.Module, layer: str, input_shape: tuple[int, int, int]) -> LayerInfo:
    """What `layer` computes for an input of `input_shape` (C, H, W), from one forward pass."""
    modules = dict(model.named_modules())
    if layer != OUTPUT and (not layer or layer not in modules):
        raise UnitError(f"the model has no layer named {layer!r}; its layers: {', '.join(visualisable_layers(model))}")
    x = torch.zeros(1, *input_shape, device=model_device(model))
    seen_input: list[torch.Tensor] = []
    watched = {} if layer == OUTPUT else {layer: modules[layer]}
    # eval mode: a pass in training mode would move batch-norm statistics
    with Hooks(watched, lambda _n, inputs, _o: seen_input.append(inputs[0]), before=True), evaluating(model), \
            torch.no_grad():
        out = layer_output(model, layer, x)
    if not isinstance(out, torch.Tensor) or out.dim() not in (2, 4):
        raise UnitError(f"layer {layer!r} gives {tuple(getattr(out, 'shape', ()))}, not [N, C] or [N, C, H, W]; "
                        "pick a conv or linear layer")
    if layer == OUTPUT:
        return LayerInfo(OUTPUT, "output", out.shape[1], False, type(model).__name__)
    first = bool(seen_input) and isinstance(seen_input[0], torch.Tensor) and seen_input[0].numel() == x.numel() \
        and seen_input[0].data_ptr() == x.data_ptr()
    return LayerInfo(layer, "conv" if out.dim() == 4 else "linear", out.shape[1], first,
                     type(modules[layer]).__name__)


def first_layer(model: nn.Module, input_shape: tuple[int, int, int]) -> str | None:
    """The first conv or linear layer whose input is the picture itself (perhaps flattened), or None."""
    x = torch.zeros(1, *input_shape, device=model_device(model))
    readers: list[str] = []

    def reads_picture(name, inputs, _output):
        if inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].data_ptr() == x.data_ptr():
            readers.append(name)

    layers = {n: m for n, m in model.named_modules() if n and isinstance(m, (nn.Conv2d, nn.Linear))}
    with Hooks(layers, reads_picture, before=True), evaluating(model), torch.no_grad():
        model(x)
    return readers[0] if readers else None


def visualisable_layers(model: nn.Module) -> list[str]:
    """Conv and linear layers by name, in definition order (what a user picks from)."""
    return [n for n, m in model.named_modules() if n and isinstance(m, (nn.Conv2d, nn.Linear))]


def parse_units(text: str, count: int) -> list[int]:
    """'0-15', '3', '0-3,8,10-11' -> sorted unit indices, each checked against `count` units."""
    units: set[int] = set()
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", part)
        if not match:
            raise UnitError(f"{text!r} is not a list of units such as 0-15 or 0-3,8")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise UnitError(f"{part.strip()!r}: a range goes from low to high")
        if high >= count:
            raise UnitError(f"unit {high} does not exist; this layer has {count} (0-{count - 1})")
        units.update(range(low, high + 1))
    return sorted(units)


def class_index(classes: list[str], wanted: str | int) -> int:
    """A class by name or by index."""
    if isinstance(wanted, int) or (isinstance(wanted, str) and wanted.isdigit() and wanted not in classes):
        index = int(wanted)
        if not 0 <= index < len(classes):
            raise UnitError(f"class {index} does not exist; the model has {len(classes)} classes")
        return index
    if wanted not in classes:
        raise UnitError(f"no class named {wanted!r}; the model's classes: {', '.join(classes)}")
    return classes.index(wanted)
