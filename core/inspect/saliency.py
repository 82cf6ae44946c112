"""Where the model looks: Grad-CAM, integrated gradients and plain gradient saliency, all from Captum.

Every function runs on a prepared copy of the situation and leaves the model as it found it: eval mode for
the pass (batch norm must not use batch statistics of one image), in-place activations switched off while
gradients flow (autograd cannot differentiate through a hooked tensor that is later overwritten) and
switched back on afterwards, the train/eval mode restored. Inputs made under torch.inference_mode() are
cloned into ordinary tensors first, since inference tensors cannot take part in autograd.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.errors import LayerscopeError
from core.inspect.activations import model_lock
from core.models.hooks import evaluating


# Integrated gradients runs `steps` scaled copies of the input through the model; this many at a time keeps
# the memory for a ResNet's backward pass in the hundreds of MB rather than gigabytes.
IG_BATCH = 8


class SaliencyUnavailable(LayerscopeError, ValueError):
    """This saliency method does not apply to this model (for example Grad-CAM on an MLP)."""


def default_cam_layer(model: nn.Module) -> str | None:
    """The last Conv2d's name (the usual Grad-CAM layer), or None when the model has no convolution."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            last = name
    return last


@contextmanager
def _gradient_ready(model: nn.Module):
    """Eval mode and no in-place activations for the duration; everything restored afterwards."""
    with model_lock(model), evaluating(model):
        inplace = [m for m in model.modules() if getattr(m, "inplace", False) is True]
        try:
            for m in inplace:
                m.inplace = False
            with torch.inference_mode(False), torch.enable_grad():
                yield
        finally:
            for m in inplace:
                m.inplace = True


def _prepare_input(batch: torch.Tensor) -> torch.Tensor:
    if batch.dim() == 3:
        batch = batch.unsqueeze(0)
    with torch.inference_mode(False):
        return batch.detach().clone().requires_grad_(True)


def _check_target(model_output_classes: int, target: int) -> int:
    target = int(target)
    if not 0 <= target < model_output_classes:
        raise ValueError(f"target class {target} is outside 0..{model_output_classes - 1}")
    return target


def _unit_range(heat: torch.Tensor) -> np.ndarray:
    """Non-negative map -> float32 [0, 1], divided by its maximum (all zero stays zero)."""
    heat = torch.nan_to_num(heat.detach().float(), nan=0.0).clamp_min(0)
    top = heat.max()
    if top > 0:
        heat = heat / top
    return heat.cpu().numpy().astype(np.float32)


def _num_classes(model: nn.Module, x: torch.Tensor) -> int:
    with torch.no_grad():
        return int(model(x[:1]).shape[-1])


def grad_cam(model: nn.Module, batch: torch.Tensor, target: int, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM for the first sample of `batch` towards class `target`: float32 [H, W] in [0, 1] at the
    input's size (bilinear upsampling of the layer's map, ReLU'd). Raises SaliencyUnavailable for a model
    without convolutions."""
    from captum.attr import LayerAttribution, LayerGradCam

    layer_name = layer_name or default_cam_layer(model)
    if layer_name is None:
        raise SaliencyUnavailable("Grad-CAM needs a convolutional layer and this model has none (an MLP); "
                                  "use gradient saliency or integrated gradients instead")
    try:
        layer = model.get_submodule(layer_name)
    except AttributeError:
        raise KeyError(f"the model has no layer named {layer_name!r}") from None
    x = _prepare_input(batch)[:1]
    with _gradient_ready(model):
        target = _check_target(_num_classes(model, x), target)
        attribution = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
        if attribution.dim() != 4:
            raise SaliencyUnavailable(f"layer {layer_name!r} does not produce feature maps; pick a convolutional layer")
        heat = LayerAttribution.interpolate(attribution, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return _unit_range(heat[0, 0])


def saliency_map(model: nn.Module, batch: torch.Tensor, target: int) -> np.ndarray:
    """Plain gradient saliency |d score / d pixel|, max over colour channels: float32 [H, W] in [0, 1]."""
    from captum.attr import Saliency

    x = _prepare_input(batch)[:1]
    with _gradient_ready(model):
        target = _check_target(_num_classes(model, x), target)
        grads = Saliency(model).attribute(x, target=target, abs=True)
    return _unit_range(grads[0].amax(dim=0))


def integrated_gradients(model: nn.Module, batch: torch.Tensor, target: int, steps: int = 32,
                         baseline: torch.Tensor | None = None) -> np.ndarray:
    """Integrated gradients from a baseline (default zeros: the dataset's mean colour after normalisation):
    |attribution| summed over channels, float32 [H, W] in [0, 1]."""
    from captum.attr import IntegratedGradients

    x = _prepare_input(batch)[:1]
    with _gradient_ready(model):
        target = _check_target(_num_classes(model, x), target)
        base = torch.zeros_like(x) if baseline is None else baseline.to(x).expand_as(x).clone()
        attributions = IntegratedGradients(model).attribute(
            x, baselines=base, target=target, n_steps=max(2, int(steps)), internal_batch_size=IG_BATCH)
    return _unit_range(attributions[0].abs().sum(dim=0))


def overlay(rgb_uint8: np.ndarray, heat: np.ndarray, alpha: float = 0.5, colormap: str = "jet") -> np.ndarray:
    """Blend a [0, 1] heat map (resized to the image if needed) over an RGB uint8 image -> uint8 RGB."""
    from core.inspect.mosaic import to_rgb8

    rgb = np.asarray(rgb_uint8)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    heat = np.asarray(heat, dtype=np.float32)
    if heat.shape != rgb.shape[:2]:
        resized = F.interpolate(torch.from_numpy(heat)[None, None], size=rgb.shape[:2], mode="bilinear",
                                align_corners=False)
        heat = resized[0, 0].numpy()
    coloured = to_rgb8(np.clip(heat, 0, 1), colormap).astype(np.float32)
    alpha = float(np.clip(alpha, 0.0, 1.0))
    return (rgb[..., :3].astype(np.float32) * (1 - alpha) + coloured * alpha + 0.5).clip(0, 255).astype(np.uint8)
