"""Capture what every layer computes for one input, with forward hooks that always remove themselves
(core.models.hooks)."""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.nn as nn

from core.models.hooks import Hooks, evaluating
from core.models.summary import layer_summary, leaf_layers


@dataclass
class LayerInfo:
    name: str
    type: str
    output_shape: tuple[int, ...]  # one sample, no batch dimension
    params: int


def list_layers(model: nn.Module, input_shape: tuple[int, int, int]) -> list[LayerInfo]:
    """Every leaf layer that produces a tensor, in execution order, with its output shape for one input."""
    return [LayerInfo(r.name, r.type, r.output_shape, r.params) for r in layer_summary(model, input_shape)]


_locks: "weakref.WeakKeyDictionary[nn.Module, threading.RLock]" = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """Hooks, eval mode and in-place switches are model-wide state, so two threads inspecting the same
    model would see each other's hooks: every inspection of a model holds its lock."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.RLock()
        return lock


def _first_tensor(out) -> torch.Tensor | None:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        return next((o for o in out if isinstance(o, torch.Tensor)), None)
    return None


def _cpu_copy(t: torch.Tensor) -> torch.Tensor:
    # On the CPU, numpy's single-threaded copy: torch's parallel copy waits for free cores, and on a busy
    # machine (training running) that wait costs more than the copy.
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64, torch.float16, torch.int64):
        return torch.from_numpy(t.detach().numpy().copy())
    return t.detach().to("cpu", copy=True)


def _select_modules(model: nn.Module, layer_names: Iterable[str] | None) -> list[tuple[str, nn.Module]]:
    if layer_names is None:
        return leaf_layers(model)
    modules = dict(model.named_modules())
    wanted = list(layer_names)
    unknown = [n for n in wanted if n not in modules or not n]
    if unknown:
        raise KeyError(f"the model has no layer named {', '.join(map(repr, unknown))}")
    return [(n, modules[n]) for n in wanted]


def forward_with_activations(model: nn.Module, batch: torch.Tensor,
                             layer_names: Iterable[str] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One eval-mode forward pass under inference_mode: (model output, {layer: activation of sample 0}).

    Activations are detached CPU copies of the first sample's output ([C, H, W] or [N]), keyed in execution
    order. A copy is needed even on the CPU: in-place layers (torchvision's ReLU(inplace=True)) overwrite
    the tensor a previous layer returned. A module called twice (a ResNet block's shared ReLU) keeps its
    last output, which is the block's output. Hooks are removed and the train/eval mode restored even when
    the forward pass raises.
    """
    captured: dict[str, torch.Tensor] = {}

    def keep_first_sample(name: str, _inputs, output) -> None:
        t = _first_tensor(output)
        if t is not None and t.dim() >= 1:
            captured[name] = _cpu_copy(t[0] if t.dim() >= 2 else t)

    with model_lock(model):
        layers = _select_modules(model, layer_names)
        with Hooks(layers, keep_first_sample), evaluating(model), torch.inference_mode():
            output = model(batch)
    return output, captured


def capture_activations(model: nn.Module, batch: torch.Tensor,
                        layer_names: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    """{layer name: detached CPU copy of its output for the first sample}, in execution order."""
    return forward_with_activations(model, batch, layer_names)[1]
