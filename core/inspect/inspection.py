"""One image through one model: prediction, the model's view of the image, and every layer's activation as
a mosaic with statistics. The GUI inspector and `layerscope inspect` both call `inspect_image`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import torch
from PIL import Image

from core.inspect.activations import forward_with_activations
from core.inspect.mosaic import Mosaic, as_array, channel_ranges, feature_mosaic
from core.inspect.stats import layer_stats


@dataclass
class LayerView:
    name: str
    type: str
    shape: tuple[int, ...]  # one sample, no batch dimension
    stats: dict[str, float]
    mosaic: Mosaic  # feature maps tiled; an [N] output is a 1 x N strip (one tile per unit)
    activation: np.ndarray | None = None  # the raw float32 activation, for click-to-enlarge / export


@dataclass
class Inspection:
    prediction: list[tuple[str, float]]  # (label, probability), best first
    input_image: np.ndarray  # uint8 [S, S, 3]: what the model sees (resized, cropped, un-normalised)
    layers: list[LayerView] = field(default_factory=list)
    probabilities: np.ndarray | None = None  # float32 [num_classes], in class order

    @property
    def top_class(self) -> int:
        return int(np.argmax(self.probabilities)) if self.probabilities is not None else -1

    def layer(self, name: str) -> LayerView:
        for view in self.layers:
            if view.name == name:
                return view
        raise KeyError(f"no inspected layer named {name!r}")


def model_view(batch: torch.Tensor, mean, std) -> np.ndarray:
    """A normalised [1, C, S, S] input back to uint8 [S, S, 3] (gray input repeated to RGB)."""
    x = as_array(batch[0])
    c = x.shape[0]
    m = np.asarray(mean, dtype=np.float32)[:c, None, None] * 255.0
    s = np.asarray(std, dtype=np.float32)[:c, None, None] * 255.0
    img = np.clip(x * s + m + 0.5, 0, 255).astype(np.uint8)
    if c == 1:
        img = np.repeat(img, 3, axis=0)
    return np.ascontiguousarray(img.transpose(1, 2, 0))


def inspect_image(predictor, image: Image.Image, top_k: int = 5, layers: Iterable[str] | None = None,
                  scaling: str = "channel", keep_activations: bool = True) -> Inspection:
    """Classify `image` and capture every leaf layer (or the named `layers`) in one forward pass.

    `predictor` is a core.checkpoints.predict.Predictor (model, classes, preprocess). The model is run in eval mode
    under inference_mode and left in the mode it was in."""
    batch = predictor.to_input(image)
    output, activations = forward_with_activations(predictor.model, batch, layers)
    probs = torch.softmax(output.detach().float()[0], dim=0).cpu()
    k = max(1, min(int(top_k), probs.numel(), len(predictor.classes)))
    values, indices = probs.topk(k)
    prediction = [(predictor.classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]

    modules = dict(predictor.model.named_modules())
    views = []
    for name, act in activations.items():
        a = as_array(act)
        if a.size == 0:
            continue
        # Per-channel ranges once: both the statistics and the channel scaling of the mosaic use them.
        ranges = channel_ranges(a) if a.ndim >= 2 else None
        views.append(LayerView(
            name=name, type=type(modules[name]).__name__, shape=tuple(a.shape), stats=layer_stats(a, ranges),
            mosaic=feature_mosaic(a, scaling=scaling, ranges=ranges),
            activation=a if keep_activations else None,
        ))
    pre = predictor.preprocess
    return Inspection(prediction, model_view(batch, pre.mean, pre.std), views, probs.numpy().astype(np.float32))
