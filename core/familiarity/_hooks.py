"""The penultimate features of any classifier: the input of its last nn.Linear, caught by a forward hook.

Private stand-in for the shared helper of issue 17 (core/models/hooks.py: `hooks(model, modules, fn)`,
`last_linear(model)`, `penultimate_features(model, x)`); same names and shapes, so the swap at merge is an
import change. The hook costs one reference per batch: the features come from the forward that makes the
logits, never from a second one.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator

import torch
import torch.nn as nn


class NoLinearHead(ValueError):
    """The model has no nn.Linear, so it has no penultimate features to read."""


def last_linear(model: nn.Module) -> nn.Linear:
    """The model's last nn.Linear in definition order: the classification head of every model the app builds
    (MLP, cnn, the torchvision classifiers)."""
    head = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            head = module
    if head is None:
        raise NoLinearHead(f"{type(model).__name__} has no Linear layer, so it has no penultimate features")
    return head


@contextlib.contextmanager
def hooks(model: nn.Module, modules: Iterable[nn.Module], fn: Callable) -> Iterator[None]:
    """fn(module, inputs, output) after each forward of `modules` while the block runs; always removed."""
    handles = [m.register_forward_hook(fn) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def penultimate_features(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward -> (features [B, D], logits [B, K]). The caller picks the mode (eval, inference_mode)."""
    caught: list[torch.Tensor] = []
    with hooks(model, [last_linear(model)], lambda _m, inputs, _out: caught.append(inputs[0])):
        logits = model(x)
    if not caught:
        raise NoLinearHead(f"{type(model).__name__}: its last Linear layer was not used in the forward pass")
    features = caught[-1]
    return features.reshape(features.shape[0], -1), logits
