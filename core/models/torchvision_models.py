"""torchvision classification models by name, built from scratch with the head sized to the classes."""
from __future__ import annotations

import torch.nn as nn
import torchvision

TORCHVISION_MODELS = ("resnet18", "resnet50", "mobilenet_v3_small", "efficientnet_b0")


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


def build_torchvision(name: str, num_classes: int, in_channels: int = 3, image_size: int = 224,
                      **options) -> nn.Module:
    model = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    if in_channels != 3:
        _adapt_first_conv(model, in_channels)
    return model
