"""A private stand-in for the shared forward-hook helper that issue 17 adds as core/models/hooks.py.

Same shape, so the lead can swap the import at merge: `hooks(model, modules, fn)` registers `fn(name, module,
output)` on each named module for the duration of a `with` block (removed even when the forward pass raises),
and `last_linear(model)` names the classification head.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator

import torch.nn as nn

HookFn = Callable[[str, nn.Module, object], object]


@contextlib.contextmanager
def hooks(model: nn.Module, modules: Iterable[str], fn: HookFn) -> Iterator[None]:
    """Forward hooks on the named sub-modules of `model`; `fn`'s return value replaces the output when it is
    not None (torch's own rule)."""
    table = dict(model.named_modules())
    handles = []
    try:
        for name in modules:
            if name not in table:
                raise KeyError(f"the model has no layer named {name!r}")
            handles.append(table[name].register_forward_hook(
                lambda module, _inputs, output, _name=name: fn(_name, module, output)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def last_linear(model: nn.Module) -> str | None:
    """Dotted name of the model's last nn.Linear (the classification head), None when it has none."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    return last
