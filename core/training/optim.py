"""Optimizer and learning-rate schedule factories by catalogue name, and the optimizer's parameter groups (the
classification head at the learning rate, the backbone at lr x backbone_lr_scale when fine-tuning): the one rule
the Trainer and the learning-rate finder (core.tuning.lr) both build their optimizer with."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from core.training.config import TrainConfig
from core.training.errors import TrainingError

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


def parameter_groups(model: nn.Module, cfg: TrainConfig) -> list[dict]:
    """The optimizer's groups: every trainable parameter at cfg.lr, or with a backbone scale other than 1 the
    backbone at lr x backbone_lr_scale and the head (head_parameter_names) at lr; empty groups left out."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise TrainingError("the model has no trainable parameters (is everything frozen?)")
    if cfg.backbone_lr_scale == 1.0:
        return [{"params": [p for _, p in trainable], "lr": cfg.lr}]
    head = head_parameter_names(model)
    groups = [{"params": [p for n, p in trainable if n not in head], "lr": cfg.lr * cfg.backbone_lr_scale},
              {"params": [p for n, p in trainable if n in head], "lr": cfg.lr}]
    return [g for g in groups if g["params"]]


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The run's optimizer (cfg.optimizer) over parameter_groups(model, cfg)."""
    return OPTIMIZERS[cfg.optimizer](parameter_groups(model, cfg), cfg)
