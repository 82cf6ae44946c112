"""Forward hooks that always come off, and the penultimate features of any classifier.

One helper for every "hook some layers, run the model, unhook" in the code base (fastai's Hooks is the model):

    with Hooks(layers, lambda name, inputs, output: seen.setdefault(name, output)):
        model(x)                                   # every hook is removed on leaving, whatever happens

`layers` is {name: module} (or (name, module) pairs); the function gets the layer's name, its inputs (a
tuple) and its output, and only watches (what it returns is ignored). `before=True` hooks run before the layer (output is None then). A hook set that lives
across calls (the trainer's layer health, the top-K tracker riding a validation pass) is the same object
without the `with`: `hooks = Hooks(...)` ... `hooks.remove()`.

`evaluating(model)` is the other half of every inspection: eval mode for the block, the model's own mode back
after it. `last_linear(model)` finds the classification head; `penultimate_features(model, x)` is what enters
it: the features every embedding, nearest-neighbour and probe view is built on.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
import torch.nn as nn

HookFn = Callable[[str, tuple, Any], None]  # (layer name, inputs, output or None for a `before` hook)


class Hooks:
    """Forward (or forward-pre) hooks on named layers, removed by `remove()` or on leaving a `with` block.

    A layer that refuses a hook (a TorchScript module) raises, unless `skip_refused`: then it is left out and
    named in `refused` ({name: reason}) so the caller can say which layers could not be watched.
    """

    def __init__(self, layers: Mapping[str, nn.Module] | Iterable[tuple[str, nn.Module]], fn: HookFn, *,
                 before: bool = False, skip_refused: bool = False):
        self.refused: dict[str, str] = {}
        self._handles: list = []
        pairs = layers.items() if isinstance(layers, Mapping) else layers
        try:
            for name, module in pairs:
                try:
                    self._handles.append(_register(module, name, fn, before))
                except RuntimeError as exc:  # TorchScript modules take no hooks
                    if not skip_refused:
                        raise
                    self.refused[name] = str(exc)
        except BaseException:
            self.remove()
            raise

    @property
    def count(self) -> int:
        """How many hooks are attached (0 after `remove()`)."""
        return len(self._handles)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> "Hooks":
        return self

    def __exit__(self, *_exc) -> None:
        self.remove()


def _register(module: nn.Module, name: str, fn: HookFn, before: bool):
    # The hooks return None whatever `fn` returns: a value returned by a torch hook would replace the layer's
    # input or output (`lambda ...: seen.setdefault(name, output)` must only watch).
    def pre_hook(_module, inputs):
        fn(name, inputs, None)

    def hook(_module, inputs, output):
        fn(name, inputs, output)

    return module.register_forward_pre_hook(pre_hook) if before else module.register_forward_hook(hook)


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode for the block; its own train/eval mode back afterwards, whatever happens."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def last_linear(model: nn.Module) -> tuple[str, nn.Linear] | None:
    """(name, layer) of the model's last nn.Linear in definition order, which is the classification head of
    every model here (the MLP's output layer, the CNN's classifier, a torchvision network's fc / classifier[-1]);
    None for a model without one."""
    found = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            found = (name, module)
    return found


def features_and_output(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(penultimate features [N, in_features], model output) of one eval-mode, inference-mode forward pass.
    The features are what enters the last Linear layer, detached, on the model's device."""
    head = last_linear(model)
    if head is None:
        raise ValueError(f"{type(model).__name__} has no Linear layer: it has no penultimate features")
    name, layer = head
    captured: dict[str, torch.Tensor] = {}

    def keep_input(_name, inputs, _output):
        captured["features"] = inputs[0].detach()  # a head called twice keeps its last input

    with Hooks({name: layer}, keep_input, before=True), evaluating(model), torch.inference_mode():
        output = model(x)
    if "features" not in captured:
        raise ValueError(f"{type(model).__name__}'s last Linear layer ({name}) did not run in its forward pass")
    return captured["features"].flatten(1), output


def penultimate_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """[N, F] what the classification head sees for the batch `x` (eval mode, no gradients)."""
    return features_and_output(model, x)[0]
