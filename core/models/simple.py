"""The two hand-built teaching models: an MLP (input -> hidden layers -> output) and a small CNN."""
from __future__ import annotations

from typing import Sequence

import torch.nn as nn

from core import catalog

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU}


def _activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; choose one of {', '.join(ACTIVATIONS)}") from None


def build_mlp(num_classes: int, in_channels: int = 3, image_size: int = 64,
              hidden: Sequence[int] = catalog.MLP_HIDDEN_DEFAULT, activation: str = catalog.ACTIVATION.default,
              dropout: float = catalog.MLP_DROPOUT.default) -> nn.Module:
    """Flatten the image (the input layer), then fully connected hidden layers, then the output layer."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_channels * image_size * image_size
    for i, h in enumerate(hidden):
        layers += [nn.Linear(width, int(h)), _activation(activation)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = int(h)
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """Conv blocks (conv -> [batch norm] -> ReLU -> max pool), channels doubling, then a pooled linear head."""

    def __init__(self, num_classes: int, in_channels: int = 3, image_size: int = 64,
                 blocks: int = catalog.CNN_BLOCKS.default, channels: int = catalog.CNN_CHANNELS.default,
                 batch_norm: bool = catalog.CNN_BATCH_NORM.default, dropout: float = catalog.CNN_DROPOUT.default):
        super().__init__()
        smallest = 2 ** int(blocks)  # each block's max pool halves the image (rounding down)
        if int(image_size) < smallest:
            raise ValueError(f"with {int(blocks)} blocks it needs images of at least {smallest} px (each block halves "
                             f"them), got {int(image_size)} px: use a larger image size, or fewer blocks "
                             f"(--option blocks={max(1, int(blocks) - 1)})")
        feats: list[nn.Module] = []
        c_in = in_channels
        for b in range(int(blocks)):
            c_out = int(channels) * 2 ** b
            feats.append(nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                feats.append(nn.BatchNorm2d(c_out))
            feats += [nn.ReLU(inplace=False), nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*feats)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
                                        nn.Linear(c_in, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)))


def build_cnn(num_classes: int, in_channels: int = 3, image_size: int = 64, **options) -> nn.Module:
    return SmallCNN(num_classes, in_channels, image_size, **options)
