"""Plain callbacks the Trainer calls: explicit hooks, each a no-op here; subclasses override what they need.

Every hook gets `run`, a RunView: what a callback may read of the run (model, data, config, step, epoch,
history, ...) and what it may ask of it (stop, pause, resume, a checkpoint, an early finish), never the
Trainer itself, so no callback reaches into the loop. A hook that describes an event gets it as one typed
value (FitStart, BatchReport, EpochMetrics, RunPoint, Validation, FitSummary) of plain Python numbers, never
live tensors.

The trainer throttles `on_batch_end` at the source (every `report_interval_s`), so a callback never sees
one call per step on a fast GPU. `on_train_step` is the one hook called every step: it gets no event (none
is built per step); read `run.step`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

    from core.data import DataBundle
    from core.models import ModelSpec
    from core.training.config import TrainConfig


@dataclass(frozen=True)
class FitStart:
    epochs: int  # the epoch the fit ends after
    start_epoch: int  # epochs completed before this fit
    batches_per_epoch: int
    total_steps: int
    device: str  # for display: "cuda:0", "cpu x 2 processes"
    train_size: int
    val_size: int
    classes: list[str]
    step: int  # optimizer steps completed before this fit
    start_batch: int  # batches of epoch start_epoch + 1 done before this fit (a mid-epoch resume)

    def to_dict(self) -> dict:
        return asdict(self)


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
    # Every compute_every_s (and at each epoch's last batch): where the steps' time went since the last one, one
    # flat dict of plain values per process, by rank (core.training.measure; the "compute" record's fields).
    compute: list[dict] = field(default_factory=list)

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


@dataclass(frozen=True)
class RunPoint:
    """Where the run is: the epoch in progress (1-based), the optimizer steps done, that epoch's batches done."""

    epoch: int
    step: int
    batch: int = 0
    reason: str = ""  # at a pause or its end: why, when the asker said (who paused it; a pause that lapsed)


@dataclass(frozen=True)
class Validation:
    """One epoch's validation pass, before the epoch ends (the learning-rate schedule has not stepped yet)."""

    epoch: int  # the 1-based epoch validated
    loss: float  # mean over the validation set (NaN when it is empty)
    accuracy: float
    size: int  # images validated


@dataclass(frozen=True)
class FitSummary:
    stopped: bool  # a stop ended the fit (it can be resumed); else it ran to its end or finished early
    epoch: int  # epochs completed
    step: int
    batch: int  # batches of the epoch in progress done (a stop mid-epoch)
    last: dict  # the last epoch's metrics (EpochMetrics.to_dict), {} before the first
    best_val_acc: float | None
    early_stop: dict | None  # what the guard that finished the run early decided (core.training.guards)

    def to_dict(self) -> dict:
        return asdict(self)


class Callback:
    def on_fit_start(self, run: RunView, start: FitStart) -> None: ...
    # Every optimizer step, on the training thread, after the step: keep it to a counter check.
    def on_train_step(self, run: RunView) -> None: ...
    def on_batch_end(self, run: RunView, report: BatchReport) -> None: ...
    def on_paused(self, run: RunView, at: RunPoint) -> None: ...
    # Called about every 0.05-0.5 s while paused (core.runs.control watches for a resume here).
    def on_pause_wait(self, run: RunView) -> None: ...
    def on_resumed(self, run: RunView, at: RunPoint) -> None: ...
    # A mid-epoch save (run.request_checkpoint) at a point every process agreed on, on every process; the
    # run's training_state() holds the epoch's running sums over all processes while this runs.
    def on_checkpoint_due(self, run: RunView, at: RunPoint) -> None: ...
    # Around each epoch's validation pass (model in eval mode, inference mode, dataset in order).
    def on_validation_start(self, run: RunView) -> None: ...
    def on_validation_end(self, run: RunView, result: Validation) -> None: ...
    def on_epoch_end(self, run: RunView, metrics: EpochMetrics) -> None: ...
    def on_fit_end(self, run: RunView, summary: FitSummary) -> None: ...
    def on_stopped(self, run: RunView, summary: FitSummary) -> None: ...
    def on_error(self, run: RunView, error: BaseException) -> None: ...


class CallbackList(Callback):
    """The trainer's callbacks as one: each hook calls every callback's, in order. The per-step hook goes
    only to the callbacks that override it (most do not: no call per step for them)."""

    def __init__(self, callbacks: list[Callback]):
        self.callbacks = list(callbacks)
        self._stepping = [cb for cb in self.callbacks if type(cb).on_train_step is not Callback.on_train_step]

    def on_fit_start(self, run, start):
        for cb in self.callbacks:
            cb.on_fit_start(run, start)

    def on_train_step(self, run):
        for cb in self._stepping:
            cb.on_train_step(run)

    def on_batch_end(self, run, report):
        for cb in self.callbacks:
            cb.on_batch_end(run, report)

    def on_paused(self, run, at):
        for cb in self.callbacks:
            cb.on_paused(run, at)

    def on_pause_wait(self, run):
        for cb in self.callbacks:
            cb.on_pause_wait(run)

    def on_resumed(self, run, at):
        for cb in self.callbacks:
            cb.on_resumed(run, at)

    def on_checkpoint_due(self, run, at):
        for cb in self.callbacks:
            cb.on_checkpoint_due(run, at)

    def on_validation_start(self, run):
        for cb in self.callbacks:
            cb.on_validation_start(run)

    def on_validation_end(self, run, result):
        for cb in self.callbacks:
            cb.on_validation_end(run, result)

    def on_epoch_end(self, run, metrics):
        for cb in self.callbacks:
            cb.on_epoch_end(run, metrics)

    def on_fit_end(self, run, summary):
        for cb in self.callbacks:
            cb.on_fit_end(run, summary)

    def on_stopped(self, run, summary):
        for cb in self.callbacks:
            cb.on_stopped(run, summary)

    def on_error(self, run, error):
        for cb in self.callbacks:
            cb.on_error(run, error)


class RunView:
    """What a callback sees of a run and may ask of it. Reads are live (the step a heartbeat thread reads is
    the step now); requests are the trainer's public, thread-safe ones."""

    __slots__ = ("_trainer",)

    def __init__(self, trainer):  # the Trainer (not imported here: the trainer imports this module)
        self._trainer = trainer

    # ---- what the run is -----------------------------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        """The unwrapped model (what checkpoints hold); callbacks may run it, never train it."""
        return self._trainer.model

    @property
    def model_spec(self) -> ModelSpec:
        return self._trainer.model_spec

    @property
    def data(self) -> DataBundle:
        return self._trainer.data

    @property
    def config(self) -> TrainConfig:
        return self._trainer.config

    @property
    def device(self) -> torch.device:
        return self._trainer.device

    # ---- where it is ---------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self._trainer.state.step

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self._trainer.state.epoch

    @property
    def history(self) -> tuple[EpochMetrics, ...]:
        return tuple(self._trainer.state.history)

    @property
    def lr(self) -> float:
        return self._trainer.lr

    @property
    def phase(self) -> str:
        """"training" or "evaluating"."""
        return self._trainer.phase

    @property
    def paused(self) -> bool:
        return self._trainer.paused

    @property
    def pause_wanted(self) -> bool:
        return self._trainer.pause_wanted

    @property
    def stop_requested(self) -> bool:
        return self._trainer.stop_requested

    def training_state(self) -> dict:
        """What a checkpoint saves beside the weights (Trainer.training_state)."""
        return self._trainer.training_state()

    # ---- what a callback may ask -----------------------------------------------------------------------
    def stop(self) -> None:
        self._trainer.stop()

    def pause(self, reason: str = "") -> None:
        self._trainer.pause(reason)

    def resume(self, reason: str = "") -> None:
        self._trainer.resume(reason)

    def request_checkpoint(self) -> None:
        self._trainer.request_checkpoint()

    def finish_early(self, decision: dict) -> None:
        self._trainer.finish_early(decision)
