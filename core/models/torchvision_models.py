"""torchvision classification models by name: from scratch, with pretrained weights (torchvision's weights
API, or a local state-dict file the user picked), the head always replaced to fit the dataset's classes.

Options (stored in ModelSpec.options, so a checkpoint records how its model was made):
- pretrained: bool       download / reuse torchvision's default weights for this architecture
- weights_path: str      a local state-dict file (.pt / .pth), loaded with weights_only=True
- freeze_backbone: bool  only the new head trains
A checkpoint rebuilds its model with `load_weights=False` (registry.build_model): its own weights replace
everything, so nothing is downloaded or read from the original weights file again.
"""
from __future__ import annotations

import os
import pickle
import urllib.error
import zipfile
from pathlib import Path

import torch
import torch.nn as nn
import torchvision

from core.catalog import TORCHVISION_MODELS
from core.errors import LayerscopeError
from core.errors import loader_reason
from core.models.hooks import last_linear


class WeightsError(LayerscopeError):
    """Pretrained weights cannot be obtained or do not fit; the message says what to do instead."""


def _adapt_first_conv(model: nn.Module, in_channels: int) -> None:
    """Grayscale input into an RGB network: swap the first conv for one with `in_channels` inputs."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and module.in_channels == 3:
            new = nn.Conv2d(in_channels, module.out_channels, module.kernel_size, module.stride,
                            module.padding, bias=module.bias is not None)
            new.weight.data = module.weight.data.mean(dim=1, keepdim=True).repeat(1, in_channels, 1, 1)
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            setattr(parent, name.rsplit(".", 1)[-1], new)
            return


def head_name(model: nn.Module) -> str:
    """Dotted name of the classification head: the model's last nn.Linear (core.models.hooks.last_linear)."""
    head = last_linear(model)
    if head is None:
        raise WeightsError(f"{type(model).__name__} has no Linear head to replace")
    return head[0]


def default_weights(name: str):
    """torchvision's default (best) weights enum for an architecture, e.g. ResNet18_Weights.IMAGENET1K_V1."""
    return torchvision.models.get_model_weights(name).DEFAULT


def weights_preprocess(name: str) -> tuple[tuple[float, ...], tuple[float, ...], int]:
    """(mean, std, crop size) that the architecture's default weights were trained with."""
    tf = default_weights(name).transforms()
    return tuple(float(v) for v in tf.mean), tuple(float(v) for v in tf.std), int(tf.crop_size[0])


def _download_state_dict(name: str) -> dict:
    weights = default_weights(name)
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        file = Path(weights.url).name
        raise WeightsError(
            f"could not download the pretrained {name} weights ({exc}). Either connect to the internet once "
            f"(they are kept in {hub}), or download {weights.url} by hand and either put it in {hub}/{file} "
            f"or pick it as a local weights file (weights_path / 'Load weights file...')") from exc


def load_weights_file(path: str | os.PathLike) -> dict:
    """A state dict from a local file, loaded as data only (weights_only=True); accepts {'state_dict': ...}
    and Layerscope checkpoints too."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"{path}: the weights file does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise WeightsError(f"{path}: not enough memory to load this weights file") from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError, OSError,
            AttributeError, KeyError, TypeError) as exc:
        raise WeightsError(f"{path}: not a readable weights file ({loader_reason(exc)}); it must be a PyTorch "
                           "state dict saved with torch.save(model.state_dict(), ...)") from None
    if isinstance(obj, dict):
        for key in ("model_state", "state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: holds no state dict (a mapping of names to tensors)")
    return {k.removeprefix("module."): v for k, v in obj.items()}  # DataParallel / DDP prefixes


def _load_into(model: nn.Module, state: dict, source: str, name: str) -> None:
    """Load every tensor whose name and shape fit; the head (and anything else that does not fit) stays new."""
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    backbone = [k for k in own if not k.startswith(head_name(model) + ".")]
    matched = sum(1 for k in backbone if k in fitting)
    if matched < 0.9 * len(backbone):
        raise WeightsError(
            f"{source}: these weights do not fit {name} (only {matched} of {len(backbone)} backbone tensors "
            "match by name and shape); pick weights saved from the same architecture")
    model.load_state_dict(fitting, strict=False)


def _stay_in_eval(module: nn.Module, _inputs) -> None:
    module.train(False)


def freeze_all_but_head(model: nn.Module) -> None:
    """requires_grad=False everywhere except the classification head; frozen batch-norm layers keep using
    (and never update) their running statistics, so the frozen features are exactly the pretrained ones."""
    head = head_name(model) + "."
    for pname, p in model.named_parameters():
        p.requires_grad = pname.startswith(head)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            # A forward pre-hook (not an overridden train()) survives deepcopy and leaves the state dict alone.
            module.register_forward_pre_hook(_stay_in_eval)


def build_torchvision(name: str, num_classes: int, in_channels: int = 3, image_size: int = 224,
                      pretrained: bool = False, weights_path: str | None = None,
                      freeze_backbone: bool = False) -> nn.Module:
    """A torchvision model with `num_classes` outputs: from scratch, pretrained, or from a local weights file."""
    if pretrained and weights_path:
        raise WeightsError("choose either pretrained weights or a local weights file, not both")
    # The head is sized to the classes first; a loaded head is kept only if its shape fits (same class count).
    model = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    if pretrained:
        _load_into(model, _download_state_dict(name), f"torchvision's {name} weights", name)
    elif weights_path:
        _load_into(model, load_weights_file(weights_path), str(weights_path), name)
    if in_channels != 3:
        _adapt_first_conv(model, in_channels)
    if freeze_backbone:
        freeze_all_but_head(model)
    return model


def data_spec_for_model(data_spec, model_name: str, options: dict):
    """The DataSpec a model needs: a pretrained network sees its weights' own normalisation, RGB input
    (grayscale data repeated to 3 channels) and, unless the user chose a size, its training size (224).
    Other models get the spec unchanged (statistics measured on the data)."""
    from dataclasses import replace

    if model_name not in TORCHVISION_MODELS or not (options.get("pretrained") or options.get("weights_path")):
        return data_spec
    mean, std, size = weights_preprocess(model_name)
    return replace(data_spec, mean=mean, std=std, channels=3, image_size=data_spec.image_size or size)
