"""Named model factories. Each takes (num_classes, in_channels, image_size, **options) and returns an
nn.Module. A ModelSpec (name + those arguments) is plain data, so a checkpoint can rebuild its model."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import torch.nn as nn

from core import catalog
from core.errors import LayerscopeError
from core.models.simple import build_cnn, build_mlp
from core.catalog import WEIGHT_OPTIONS  # options that load weights (skipped when a checkpoint rebuilds)
from core.models.torchvision_models import TORCHVISION_MODELS, WeightsError, build_torchvision


class ModelError(LayerscopeError):
    """A model cannot be built as asked; the message says which option is wrong."""


_FACTORIES: dict[str, Callable[..., nn.Module]] = {"mlp": build_mlp, "cnn": build_cnn}
for _name in TORCHVISION_MODELS:
    _FACTORIES[_name] = (lambda n: lambda **kw: build_torchvision(n, **kw))(_name)

MODEL_NAMES: tuple[str, ...] = tuple(_FACTORIES)  # tests/core/test_catalog.py: the same as core.catalog's


@dataclass
class ModelSpec:
    name: str = catalog.DEFAULT_MODEL
    num_classes: int = 5
    in_channels: int = 3
    image_size: int = 64
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSpec":
        return cls(name=str(d["name"]), num_classes=int(d["num_classes"]), in_channels=int(d.get("in_channels", 3)),
                   image_size=int(d.get("image_size", 64)), options=dict(d.get("options") or {}))


def build_model(spec: ModelSpec, load_weights: bool = True) -> nn.Module:
    """Build the model `spec` describes. load_weights=False skips pretrained / weights-file options: a
    checkpoint or resume supplies the weights itself and must never download them again."""
    factory = _FACTORIES.get(spec.name)
    if factory is None:
        raise ModelError(f"unknown model '{spec.name}'; choose one of: {', '.join(MODEL_NAMES)}")
    if spec.num_classes < 2:
        raise ModelError(f"a classifier needs at least 2 classes, got {spec.num_classes}")
    try:
        options = spec.options if load_weights else {k: v for k, v in spec.options.items()
                                                     if k not in WEIGHT_OPTIONS}
        return factory(num_classes=spec.num_classes, in_channels=spec.in_channels,
                       image_size=spec.image_size, **options)
    except TypeError as exc:
        raise ModelError(f"model '{spec.name}' does not take these options {spec.options}: {exc}") from exc
    except ValueError as exc:  # options or an input size the architecture cannot take
        raise ModelError(f"model '{spec.name}': {exc}") from exc
    except WeightsError as exc:
        raise ModelError(str(exc)) from exc
