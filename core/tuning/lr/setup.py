"""What a range test trains: the data, model, optimizer and loader that a run with these settings would get,
built the way core.training.session and the Trainer build them (same data spec for the model, same seed, same
parameter groups, same mixed precision), minus the run folder, callbacks and scheduler."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import torch

from core.data import DataBundle, build_data, make_loader
from core.models import ModelSpec, build_model
from core.models.torchvision_models import data_spec_for_model
from core.progress import Reporter
from core.training.config import TrainConfig
from core.training.errors import TrainingError
from core.training.optim import OPTIMIZERS, head_parameter_names
from core.training.precision import SpeedOptions
from core.training.runtime import resolve_device, seed_everything


@dataclass
class RangeTestSetup:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    data: DataBundle
    device: torch.device
    speed: SpeedOptions
    config: TrainConfig

    def batches(self) -> Iterator:
        """Training batches without end: epoch after epoch, each in the engine's seeded order."""
        epoch = 0
        cfg = self.config
        while True:
            loader = make_loader(self.data.train, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch,
                                 num_workers=cfg.num_workers, pin_memory=self.device.type == "cuda")
            yield from loader
            epoch += 1


def build_setup(settings, cancelled=None) -> RangeTestSetup:
    """settings: a core.training.session.RunSettings. cancelled(): polled while a folder dataset is scanned."""
    cfg = settings.train
    cfg.validate()
    data_spec = data_spec_for_model(settings.data, settings.model_name, settings.model_options)
    data = build_data(data_spec, Reporter(cancel=cancelled))
    if len(data.train) == 0:
        raise TrainingError("the training set is empty; add images (one sub-folder per class)")
    spec = ModelSpec(settings.model_name, data.num_classes, data.preprocess.channels, data.preprocess.image_size,
                     dict(settings.model_options))
    seed_everything(cfg.seed)
    model = build_model(spec)
    device = resolve_device(cfg.device)
    speed = replace(SpeedOptions.for_run(cfg, device, model), compile=False)  # compiling costs more than the test
    model = speed.place(model, device)
    return RangeTestSetup(model, OPTIMIZERS[cfg.optimizer](parameter_groups(model, cfg), cfg), data, device, speed,
                          cfg)


def parameter_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
    """The Trainer's optimizer groups: the backbone at lr x backbone_lr_scale, the head at lr. (The same rule
    as Trainer._make_optimizer; one shared function in core.training.optim is the merge's job.)"""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise TrainingError("the model has no trainable parameters (is everything frozen?)")
    if cfg.backbone_lr_scale == 1.0:
        return [{"params": [p for _, p in trainable], "lr": cfg.lr}]
    head = head_parameter_names(model)
    groups = [{"params": [p for n, p in trainable if n not in head], "lr": cfg.lr * cfg.backbone_lr_scale},
              {"params": [p for n, p in trainable if n in head], "lr": cfg.lr}]
    return [g for g in groups if g["params"]]
