"""Plain callbacks the Trainer calls. Every hook is a no-op here; subclasses override what they need.

The trainer throttles `on_batch_end` at the source (every `report_interval_s`), so a callback never sees
one call per step on a fast GPU. Reports carry plain Python numbers, never live tensors.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class BatchReport:
    epoch: int  # 1-based epoch in progress
    epochs: int
    batch: int  # batches done in this epoch
    batches_per_epoch: int
    step: int  # global optimizer steps so far
    total_steps: int
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) since the last report
    lr: float = 0.0
    images_per_sec: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = None

    @property
    def run_fraction(self) -> float:
        return self.step / max(1, self.total_steps)


@dataclass
class EpochMetrics:
    epoch: int  # epochs completed, 1-based
    step: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    images_per_sec: float
    duration_s: float

    def to_dict(self) -> dict:
        return asdict(self)


class Callback:
    def on_fit_start(self, trainer, info: dict) -> None: ...
    def on_batch_end(self, trainer, report: BatchReport) -> None: ...
    def on_epoch_end(self, trainer, metrics: EpochMetrics) -> None: ...
    def on_paused(self, trainer, info: dict) -> None: ...  # info: epoch (1-based, in progress), step
    def on_resumed(self, trainer, info: dict) -> None: ...
    # Called about every 0.05-0.5 s while paused (core.runs.control watches for a resume here).
    def on_pause_wait(self, trainer) -> None: ...
    # A multi-process run's agreed mid-epoch save (Trainer.request_checkpoint), on every process.
    def on_checkpoint_due(self, trainer) -> None: ...
    def on_fit_end(self, trainer, summary: dict) -> None: ...
    def on_stopped(self, trainer, summary: dict) -> None: ...
    def on_error(self, trainer, error: BaseException) -> None: ...
    # Called on the training thread every optimizer step (after it): keep it to a counter check.
    def on_train_step(self, trainer) -> None: ...
    # Around each epoch's validation pass (model in eval mode, inference mode, dataset in order).
    def on_validation_start(self, trainer) -> None: ...
    def on_validation_end(self, trainer) -> None: ...
