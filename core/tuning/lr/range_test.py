"""The learning-rate range test (Leslie Smith, "Cyclical Learning Rates", 2017; fastai's lr_find): train for a
few dozen steps while the learning rate grows exponentially from tiny to huge, record every step's loss, and
stop once the smoothed loss explodes. The weights and the optimizer are put back afterwards (snapshot.py).

Written here rather than taken from torch-lr-finder or Lightning's Tuner: those drive their own trainer or
loader conventions, while this one steps the engine's own optimizer (its parameter groups, fine-tuning's
backbone scale and the fp16 grad scaler included) over the engine's own loader.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from core.progress import NO_PROGRESS, Progress
from core.tuning.lr.snapshot import restored

# 200 steps, not fastai's 100: a network trained from scratch learns little in 100 steps, and its curve is then
# mostly the noise of one batch against the next (measured on shapes: the suggested band moved by half a decade
# between two such runs).
START_LR, END_LR, STEPS = 1e-7, 10.0, 200
SMOOTHING = 0.9  # the running average's beta, for the explosion test (the band is read off the lag-free trend)
DIVERGE_FACTOR = 4.0  # stop when the smoothed loss exceeds the best smoothed loss this many times (fastai's 4)
MIN_STEPS_BEFORE_STOP = 10  # the first smoothed losses are too noisy to call an explosion
MAX_STEPS = 10_000


@dataclass
class LRCurve:
    lrs: list[float] = field(default_factory=list)  # the head's learning rate at each step (Trainer.lr's group)
    losses: list[float] = field(default_factory=list)  # that step's training loss (before its update)
    smoothed: list[float] = field(default_factory=list)  # the running (debiased EMA) loss that the stop rule reads
    trend: list[float] = field(default_factory=list)  # the centred, lag-free average the band is read off
    start_lr: float = START_LR
    end_lr: float = END_LR
    steps_planned: int = STEPS
    stop_reason: str = "finished"  # finished | exploded | not finite

    @property
    def stopped_early(self) -> bool:
        return self.stop_reason != "finished"


def check_range(start_lr: float, end_lr: float, steps: int) -> None:
    if not (0 < start_lr < end_lr and math.isfinite(end_lr)):
        raise ValueError(f"the learning rates must grow: 0 < start ({start_lr:g}) < end ({end_lr:g})")
    if not (5 <= steps <= MAX_STEPS):
        raise ValueError(f"the range test needs 5 to {MAX_STEPS} steps (got {steps})")


def range_test(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batches: Iterator, *,
               device: torch.device, speed=None, start_lr: float = START_LR, end_lr: float = END_LR,
               steps: int = STEPS, smoothing: float = SMOOTHING, diverge_factor: float = DIVERGE_FACTOR,
               progress: Progress = NO_PROGRESS) -> LRCurve:
    """Run the test on `model` / `optimizer` (restored on return, also when cancelled). `batches` yields
    (inputs, targets) without end; `speed` is the run's core.training.precision.SpeedOptions (None: plain).
    progress (core.progress): told after each step; a cancel raises core.errors.Cancelled between steps."""
    check_range(start_lr, end_lr, steps)
    curve = LRCurve(start_lr=start_lr, end_lr=end_lr, steps_planned=steps)
    schedule = np.geomspace(start_lr, end_lr, steps)
    scales = _group_scales(optimizer)
    with restored(model, optimizer, getattr(speed, "scaler", None)):
        model.train()
        ema, best = 0.0, math.inf
        for i, lr in enumerate(schedule):
            progress.check_cancelled()
            for group, scale in zip(optimizer.param_groups, scales):
                group["lr"] = float(lr) * scale
            loss = _train_step(model, optimizer, next(batches), device, speed)
            ema = smoothing * ema + (1 - smoothing) * loss
            smooth = ema / (1 - smoothing ** (i + 1))  # debiased: the first values are not pulled towards 0
            curve.lrs.append(float(lr))
            curve.losses.append(loss)
            curve.smoothed.append(smooth if math.isfinite(loss) else math.nan)
            progress.update(i + 1, steps, f"learning rate {lr:.2e}: loss {loss:.4g}")
            if not math.isfinite(loss):
                curve.stop_reason = "not finite"
                break
            best = min(best, smooth)
            if i >= MIN_STEPS_BEFORE_STOP and smooth > diverge_factor * best:
                curve.stop_reason = "exploded"
                break
    return curve


def _group_scales(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each group's lr relative to the last group's (the head's), so fine-tuning's backbone scale is kept."""
    base = float(optimizer.param_groups[-1]["lr"]) or 1.0
    return [float(g["lr"]) / base for g in optimizer.param_groups]


def _train_step(model, optimizer, batch, device, speed) -> float:
    inputs, targets = batch
    inputs = speed.inputs(inputs, device) if speed is not None else inputs.to(device)
    targets = targets.to(device, non_blocking=True)
    with speed.autocast(device) if speed is not None else contextlib.nullcontext():
        loss = F.cross_entropy(model(inputs), targets)
    optimizer.zero_grad(set_to_none=True)
    if speed is not None:
        speed.backward_and_step(loss, optimizer)
    else:
        loss.backward()
        optimizer.step()
    # One device->host read per step: the explosion test needs each loss, and a test of ~100 steps can afford
    # the synchronisation that a training loop avoids.
    return float(loss.detach())
