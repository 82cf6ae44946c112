"""Optimizer and learning-rate schedule factories by catalogue name, and the classification head's parameters
(fine-tuning gives the backbone its own learning rate)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from core.training.config import TrainConfig

# Optimizer and schedule factories by catalogue name (a test checks they match core.catalog exactly).
OPTIMIZERS: dict[str, Callable[[list, TrainConfig], torch.optim.Optimizer]] = {
    "sgd": lambda groups, cfg: torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay),
    "adam": lambda groups, cfg: torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay),
    "adamw": lambda groups, cfg: torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay),
}
SCHEDULERS: dict[str, Callable[[torch.optim.Optimizer, TrainConfig], object]] = {
    "none": lambda opt, cfg: None,
    "cosine": lambda opt, cfg: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs)),
    "step": lambda opt, cfg: torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.step_size), gamma=cfg.gamma),
}


def head_parameter_names(model: nn.Module) -> set[str]:
    """Names of the parameters of the model's last Linear layer (the classification head)."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        return set()
    return {f"{last}.{n}" for n, _ in model.get_submodule(last).named_parameters()}
