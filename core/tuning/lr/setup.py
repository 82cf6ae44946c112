"""What a range test trains: the data, model, optimizer and loader that a run with these settings would get,
built the way core.training.session and the Trainer build them (same data spec for the model, same seed, the
same optimizer and parameter groups: core.training.optim.make_optimizer, same mixed precision), minus the run
folder, callbacks and scheduler."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import torch

from core.data import DataBundle, build_data, make_loader
from core.models import ModelSpec, build_model
from core.models.torchvision_models import data_spec_for_model
from core.progress import NO_PROGRESS, Progress
from core.training.config import TrainConfig
from core.training.errors import TrainingError
from core.training.optim import make_optimizer
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


def build_setup(settings, progress: Progress = NO_PROGRESS) -> RangeTestSetup:
    """settings: a core.training.session.RunSettings. progress: told while a folder dataset is read (and cancels
    it)."""
    cfg = settings.train
    cfg.validate()
    data_spec = data_spec_for_model(settings.data, settings.model_name, settings.model_options)
    data = build_data(data_spec, progress)
    if len(data.train) == 0:
        raise TrainingError("the training set is empty; add images (one sub-folder per class)")
    spec = ModelSpec(settings.model_name, data.num_classes, data.preprocess.channels, data.preprocess.image_size,
                     dict(settings.model_options))
    seed_everything(cfg.seed)
    model = build_model(spec)
    device = resolve_device(cfg.device)
    speed = replace(SpeedOptions.for_run(cfg, device, model), compile=False)  # compiling costs more than the test
    model = speed.place(model, device)
    return RangeTestSetup(model, make_optimizer(model, cfg), data, device, speed, cfg)
