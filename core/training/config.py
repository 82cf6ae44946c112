"""How to train: TrainConfig, its defaults from core.catalog and its checks."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from core import catalog
from core.training.errors import TrainingError


@dataclass
class TrainConfig:
    """How to train. Defaults (and their meaning) come from core.catalog."""

    epochs: int = catalog.EPOCHS.default
    batch_size: int = catalog.BATCH_SIZE.default
    lr: float = catalog.LEARNING_RATE.default
    optimizer: str = catalog.OPTIMIZER.default
    momentum: float = catalog.MOMENTUM.default
    weight_decay: float = catalog.WEIGHT_DECAY.default
    schedule: str = catalog.SCHEDULE.default
    step_size: int = catalog.STEP_SIZE.default  # step schedule: multiply the lr by `gamma` every `step_size` epochs
    gamma: float = catalog.GAMMA.default
    seed: int = catalog.SEED.default
    device: str = catalog.DEVICE.default
    num_workers: int = catalog.WORKERS.default
    backbone_lr_scale: float = catalog.BACKBONE_LR_SCALE.default  # fine-tuning: backbone lr = lr * scale
    report_interval_s: float = catalog.REPORT_INTERVAL_S  # how often on_batch_end fires at most
    checkpoint_every_min: float = catalog.CHECKPOINT_EVERY_MIN.default  # also save last.pt this often mid-epoch (0: off)
    early_stop_patience: int = catalog.EARLY_STOP_PATIENCE.default  # epochs without a better metric (0: off)
    early_stop_metric: str = catalog.EARLY_STOP_METRIC.default
    heartbeat_s: float = catalog.HEARTBEAT_S.default  # a heartbeat record this often while the run is alive
    evaluate_at_end: bool = True  # a run with a run folder evaluates its validation set into RUN/eval/ at the end
    amp: bool = catalog.AMP.default  # CUDA only: bf16 autocast where supported, else fp16 with a GradScaler
    compile: bool = catalog.COMPILE.default  # torch.compile the training forward (CUDA; first steps are slow)
    dossier_topk: bool = catalog.DOSSIER_TOPK.default  # keep the top images per channel at each validation pass
    layer_health_every: int = catalog.LAYER_HEALTH_EVERY.default  # sample layer health every N steps (0: off)
    probe_images: list = field(default_factory=list)  # image files whose prediction is followed over the run

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def validate(self) -> None:
        problems = []
        if self.epochs < 1:
            problems.append(f"epochs must be at least 1 (got {self.epochs})")
        if self.batch_size < 1:
            problems.append(f"batch size must be at least 1 (got {self.batch_size})")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            problems.append(f"learning rate must be a positive number (got {self.lr})")
        if self.optimizer not in catalog.OPTIMIZER.names:
            problems.append(f"optimizer must be one of {', '.join(catalog.OPTIMIZER.names)} (got {self.optimizer!r})")
        if self.schedule not in catalog.SCHEDULE.names:
            problems.append(f"schedule must be one of {', '.join(catalog.SCHEDULE.names)} (got {self.schedule!r})")
        if self.early_stop_metric not in catalog.EARLY_STOP_METRIC.names:
            problems.append(f"early stop metric must be one of {', '.join(catalog.EARLY_STOP_METRIC.names)} (got {self.early_stop_metric!r})")
        if self.early_stop_patience < 0:
            problems.append(f"early stop patience must be 0 (off) or more (got {self.early_stop_patience})")
        if not self.checkpoint_every_min >= 0:
            problems.append(f"checkpoint interval must be 0 (off) or more minutes (got {self.checkpoint_every_min})")
        if not (self.heartbeat_s > 0 and math.isfinite(self.heartbeat_s)):
            problems.append(f"heartbeat interval must be a positive number of seconds (got {self.heartbeat_s})")
        if not (isinstance(self.layer_health_every, int) and self.layer_health_every >= 0):
            problems.append(f"layer health interval must be 0 (off) or a whole number of steps (got {self.layer_health_every!r})")
        if problems:
            raise TrainingError("; ".join(problems))
