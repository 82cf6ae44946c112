"""A model's weights as plain CPU tensors: what checkpoints, the inspector and the window are given instead
of the live model."""
from __future__ import annotations

import torch
import torch.nn as nn


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every tensor of the state dict on the CPU, sharing no storage with the live model (a CPU
    model's tensors are copied too, so training on cannot change them)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
