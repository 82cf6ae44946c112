"""A layer summary (name, type, output shape, parameters) from one dummy forward pass with hooks
(core.models.hooks)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from core.models.hooks import Hooks, evaluating, model_device


@dataclass
class LayerRow:
    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    trainable: bool


def leaf_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if n and not list(m.children())]


def probe_leaf_outputs(model: nn.Module, input_shape: tuple[int, int, int], on_output) -> None:
    """One eval-mode forward pass of a zero input [1, *input_shape] with `on_output(name, output)` called for
    every leaf layer's output; hooks removed and the model's train/eval mode restored whatever happens."""
    with (Hooks(leaf_layers(model), lambda name, _inputs, output: on_output(name, output)), evaluating(model),
          torch.inference_mode()):
        model(torch.zeros(1, *input_shape, device=model_device(model)))


def layer_summary(model: nn.Module, input_shape: tuple[int, int, int]) -> list[LayerRow]:
    """One row per leaf layer, in execution order, with the output shape for a single input (no batch)."""
    shapes: dict[str, tuple[int, ...]] = {}
    order: list[str] = []

    def record(name, out):
        if name not in shapes and isinstance(out, torch.Tensor):
            shapes[name] = tuple(out.shape[1:])
            order.append(name)

    probe_leaf_outputs(model, input_shape, record)
    modules = dict(model.named_modules())
    rows = []
    for name in order:
        m = modules[name]
        params = list(m.parameters(recurse=False))
        rows.append(LayerRow(name, type(m).__name__, shapes[name], sum(p.numel() for p in params),
                             any(p.requires_grad for p in params) if params else False))
    return rows
