"""The fit loop. Knows nothing of Qt: it reports through plain callbacks and is steered through thread-safe
flags (stop, pause, resume) that it checks between batches, so any thread may call them."""
from __future__ import annotations

import math
import random
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import catalog
from core.callbacks import BatchReport, Callback, EpochMetrics
from core.data import DataBundle, make_loader
from core.early_stop import early_stop_decision
from core.epoch_position import EpochPosition, epoch_loader
from core.imageio import ImageLoadError
from core.models import ModelSpec


class TrainingError(Exception):
    """Training cannot go on; the message says why and what to change."""

    status = "error"  # how the run folder records the end of the run


class DivergedError(TrainingError):
    """The loss became NaN/inf or exploded: the weights are garbage, so the run is not "done"."""

    status = "diverged"


TrainingDiverged = DivergedError  # one exception for divergence, under either name


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
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)} (got {self.optimizer!r})")
        if self.schedule not in SCHEDULERS:
            problems.append(f"schedule must be one of {', '.join(SCHEDULERS)} (got {self.schedule!r})")
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


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU here; use --device cpu or auto")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % 2**63


def head_parameter_names(model: nn.Module) -> set[str]:
    """Names of the parameters of the model's last Linear layer (the classification head)."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        return set()
    return {f"{last}.{n}" for n, _ in model.get_submodule(last).named_parameters()}


class Trainer:
    def __init__(self, model: nn.Module, data: DataBundle, config: TrainConfig, model_spec: ModelSpec,
                 callbacks: Iterable[Callback] = ()):
        config.validate()
        self.config = config
        self.data = data
        self.model_spec = model_spec
        self.callbacks = list(callbacks)
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.optimizer = self._make_optimizer()
        self.scheduler = self._make_scheduler()
        self.epoch = 0  # epochs completed
        self.step = 0  # optimizer steps completed
        self.history: list[EpochMetrics] = []
        self._first_loss: float | None = None
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._weight_requests: list[Callable[[dict], None]] = []
        self._use_cuda = self.device.type == "cuda"
        self.phase = "training"  # or "evaluating"; read by the run folder's heartbeat
        self._live: dict | None = None  # the epoch in progress (for a mid-epoch checkpoint)
        self._resume_position: EpochPosition | None = None
        self.early_stop: dict | None = None  # set when early stopping ended the run

    # ---- thread-safe control -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run must wake up to stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def request_weights(self, receiver: Callable[[dict], None]) -> None:
        """At the next batch boundary, call `receiver` (on the training thread) with a CPU copy of the
        model's state dict. Used to inspect the model while it trains without touching the live one."""
        with self._lock:
            self._weight_requests.append(receiver)

    # ---- set-up --------------------------------------------------------------------------------------
    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config
        trainable = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        if not trainable:
            raise TrainingError("the model has no trainable parameters (is everything frozen?)")
        if cfg.backbone_lr_scale != 1.0:
            head = head_parameter_names(self.model)
            groups = [
                {"params": [p for n, p in trainable if n not in head], "lr": cfg.lr * cfg.backbone_lr_scale},
                {"params": [p for n, p in trainable if n in head], "lr": cfg.lr},
            ]
            groups = [g for g in groups if g["params"]]
        else:
            groups = [{"params": [p for _, p in trainable], "lr": cfg.lr}]
        return OPTIMIZERS[cfg.optimizer](groups, cfg)

    def _make_scheduler(self):
        return SCHEDULERS[self.config.schedule](self.optimizer, self.config)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[-1]["lr"])

    # ---- state for checkpoints -----------------------------------------------------------------------
    def training_state(self) -> dict:
        position = self.epoch_position()
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "epoch": self.epoch,
            "step": self.step,
            "config": self.config.to_dict(),
            "data_spec": self.data.spec.to_dict(),
            "history": [m.to_dict() for m in self.history],
            "rng": {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
                    "numpy_seed_hint": int(self.config.seed)},
            "position": position.to_dict() if position else None,
        }

    def epoch_position(self) -> EpochPosition | None:
        """Where the run is inside the epoch in progress (None between epochs)."""
        live = self._live
        if not live or live["batch"] == 0:
            return None
        return EpochPosition(epoch=self.epoch, batch=live["batch"], step=self.step, loss_sum=float(live["loss_sum"]),
                             correct=int(live["correct"]), seen=live["seen"], rng=torch.get_rng_state())

    def load_training_state(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        planned = int(state.get("config", {}).get("epochs", self.config.epochs))
        if isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and planned != self.config.epochs:
            # The run was extended: re-plan the cosine curve over the new total, continuing from this epoch.
            self.scheduler.last_epoch = self.epoch
            for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
                group["lr"] = base * (1 + math.cos(math.pi * self.epoch / self.config.epochs)) / 2
        elif self.scheduler is not None and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        self.history = [EpochMetrics(**m) for m in state.get("history", [])]
        rng = state.get("rng") or {}
        if isinstance(rng.get("torch"), torch.Tensor):
            torch.set_rng_state(rng["torch"])
        python_state = rng.get("python")
        if isinstance(python_state, (list, tuple)) and len(python_state) == 625:  # Mersenne Twister: 624 words + index
            random.setstate((3, tuple(int(v) for v in python_state), None))
        position = EpochPosition.from_dict(state.get("position"))
        if position is not None and position.epoch == self.epoch and position.step == self.step:
            self._resume_position = position

    # ---- the loop ------------------------------------------------------------------------------------
    def _emit(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def _serve_weight_requests(self) -> None:
        with self._lock:
            requests, self._weight_requests = self._weight_requests, []
        if requests:
            state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            for receiver in requests:
                receiver(state)

    def _wait_if_paused(self) -> None:
        if self._running.is_set():
            return
        self._emit("on_paused", {"epoch": self.epoch + 1, "step": self.step})
        while not self._running.wait(timeout=0.05):
            self._serve_weight_requests()  # inspection keeps working while paused
        self._emit("on_resumed", {"epoch": self.epoch + 1, "step": self.step})

    def fit(self) -> dict:
        """Train from the current epoch to config.epochs. Returns a summary dict (also given to callbacks)."""
        cfg = self.config
        try:
            train_len = len(self.data.train)
            if train_len == 0:
                raise TrainingError("the training set is empty; add images (one sub-folder per class)")
            batches = math.ceil(train_len / cfg.batch_size)
            total_steps = batches * cfg.epochs
            if self._resume_position is None and self._live:  # fit() again after a stop: go on mid-epoch
                self._resume_position = self.epoch_position()
            self._emit("on_fit_start", {
                "epochs": cfg.epochs, "start_epoch": self.epoch, "batches_per_epoch": batches,
                "total_steps": total_steps, "device": str(self.device), "train_size": train_len,
                "val_size": len(self.data.val), "classes": list(self.data.classes), "step": self.step,
                "start_batch": self._resume_position.batch if self._resume_position else 0,
            })
            fit_start = time.perf_counter()
            steps_at_start = self.step
            while self.epoch < cfg.epochs:
                finished = self._train_one_epoch(batches, total_steps, fit_start, steps_at_start)
                if not finished:
                    summary = self._summary(stopped=True)
                    self._emit("on_stopped", summary)
                    return summary
                self.early_stop = self._early_stop_check()
                if self.early_stop is not None:
                    break
            summary = self._summary(stopped=False)
            self._emit("on_fit_end", summary)
            return summary
        except BaseException as exc:
            error = _explain(exc)
            self._emit("on_error", error)
            raise error from exc

    def _reference_loss(self, losses: list[tuple[int, float]]) -> float | None:
        """The first epoch's mean loss (or, during epoch 1, the first loss seen): what "exploded" is measured
        against."""
        if self.history:
            return self.history[0].train_loss
        if self._first_loss is None:
            self._first_loss = next((v for _, v in losses if math.isfinite(v)), None)
        return self._first_loss

    def _summary(self, stopped: bool) -> dict:
        last = self.history[-1].to_dict() if self.history else {}
        best = max((m.val_acc for m in self.history), default=None)
        return {"stopped": stopped, "epoch": self.epoch, "step": self.step, "last": last, "best_val_acc": best,
                "early_stop": self.early_stop, "batch": self._live["batch"] if self._live else 0}

    def _early_stop_check(self) -> dict | None:
        if self.epoch >= self.config.epochs:
            return None
        return early_stop_decision(self.history, self.config.early_stop_metric, self.config.early_stop_patience)

    def _train_one_epoch(self, batches: int, total_steps: int, fit_start: float, steps_at_start: int) -> bool:
        cfg = self.config
        epoch_number = self.epoch + 1
        position, self._resume_position = self._resume_position, None
        if position is None:
            # Seeding per epoch makes shuffling, augmentation and dropout depend only on (seed, epoch): a run
            # resumed from a checkpoint replays exactly the epochs it would have run.
            torch.manual_seed(_epoch_seed(cfg.seed, self.epoch))
        else:
            torch.set_rng_state(position.rng)  # mid-epoch resume: continue the random draws where they stopped
        done = position.batch if position else 0
        loader = epoch_loader(self.data.train, cfg.batch_size, seed=cfg.seed, epoch=self.epoch, skip_batches=done,
                              num_workers=cfg.num_workers, pin_memory=self._use_cuda)
        self.model.train()
        epoch_start = time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        if position is not None:
            loss_sum += position.loss_sum
            correct += position.correct
            seen = position.seen
        pending: list[tuple[int, torch.Tensor]] = []
        last_report = time.perf_counter()
        images_since_report = 0
        batch_index = done
        live = self._live = {"batch": batch_index, "loss_sum": loss_sum, "correct": correct, "seen": seen}
        batch_iter = iter(loader)
        while batch_index < batches:
            # Stop is checked before the next batch is drawn, so the saved RNG state is the one after the
            # last done batch and a resume draws the same augmentation and dropout.
            if self._stop.is_set():
                return False
            self._wait_if_paused()
            if self._stop.is_set():
                return False
            try:
                inputs, targets = next(batch_iter)
            except StopIteration:
                break
            inputs = inputs.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self._use_cuda and torch.cuda.is_bf16_supported()):
                logits = self.model(inputs)
                loss = F.cross_entropy(logits, targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.step += 1
            batch_index += 1
            self._emit("on_train_step")
            n = targets.shape[0]
            seen += n
            live["batch"], live["seen"] = batch_index, seen
            images_since_report += n
            detached = loss.detach()
            loss_sum += detached * n
            correct += (logits.detach().argmax(1) == targets).sum()
            pending.append((self.step, detached))
            self._serve_weight_requests()
            now = time.perf_counter()
            if now - last_report >= cfg.report_interval_s or batch_index == batches:
                # One device->host copy per report, not per step.
                values = torch.stack([t for _, t in pending]).float().cpu().tolist()
                losses = [(s, v) for (s, _), v in zip(pending, values)]
                pending.clear()
                check_divergence(losses, self._reference_loss(losses), epoch_number, self.lr)
                ips = images_since_report / max(now - last_report, 1e-9)
                done = self.step - steps_at_start
                elapsed = now - fit_start
                remaining = total_steps - self.step
                eta = elapsed / done * remaining if done else None
                self._emit("on_batch_end", BatchReport(
                    epoch=epoch_number, epochs=cfg.epochs, batch=batch_index, batches_per_epoch=batches,
                    step=self.step, total_steps=total_steps, losses=losses, lr=self.lr, images_per_sec=ips,
                    elapsed_s=elapsed, eta_s=eta))
                last_report = now
                images_since_report = 0
        if self._stop.is_set():
            return False
        train_duration = time.perf_counter() - epoch_start
        self.phase = "evaluating"
        self._emit("on_validation_start")
        try:
            val_loss, val_acc = evaluate(self.model, self.data.val, cfg.batch_size * 2, self.device)
        finally:
            self.phase = "training"
        self._emit("on_validation_end")
        self._live = None
        if len(self.data.val) and not (math.isfinite(val_loss) and val_loss <= EXPLODED_LOSS):
            raise DivergedError(f"the validation loss became {val_loss:g} after epoch {epoch_number}: the model "
                                f"diverged. {divergence_advice(self.lr)}")
        if self.scheduler is not None:
            with warnings.catch_warnings():  # a resume at the end of an epoch's batches steps no optimizer first
                warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
                self.scheduler.step()
        self.epoch += 1
        metrics = EpochMetrics(
            epoch=self.epoch, step=self.step, train_loss=float(loss_sum) / max(seen, 1),
            train_acc=float(correct) / max(seen, 1), val_loss=val_loss, val_acc=val_acc, lr=self.lr,
            images_per_sec=seen / max(train_duration, 1e-9), duration_s=time.perf_counter() - epoch_start)
        self.history.append(metrics)
        self._emit("on_epoch_end", metrics)
        return True


EXPLODED_LOSS = 1e6  # cross-entropy of a working classifier stays far below this
EXPLODED_GROWTH = 1000.0  # or a loss this many times the first epoch's


def divergence_advice(lr: float) -> str:
    """A learning rate known to be safe: a hundredth of this one, never above the usual default."""
    safe = min(lr / 100, catalog.LEARNING_RATE.default)
    return (f"The learning rate {lr:g} is probably too high: train again with --lr {safe:g}, and check the data "
            "for broken images or extreme pixel values")


def check_divergence(losses: list[tuple[int, float]], reference: float | None, epoch: int, lr: float) -> None:
    for step, value in losses:
        if not math.isfinite(value):
            raise DivergedError(f"the training loss became {value} at step {step} (epoch {epoch}). "
                                   f"{divergence_advice(lr)}")
        # The growth test has a floor of 1.0: a fine-tuned model starting near 0 may rise without diverging.
        if value > EXPLODED_LOSS or (reference is not None and value > max(reference, 1.0) * EXPLODED_GROWTH):
            raise DivergedError(f"the training loss exploded to {value:g} at step {step} (epoch {epoch}"
                                   + (f", from {reference:g} at the start" if reference else "")
                                   + f"): the model diverged. {divergence_advice(lr)}")


def evaluate(model: nn.Module, dataset, batch_size: int, device: torch.device) -> tuple[float, float]:
    """Mean loss and accuracy over `dataset`, in eval mode; (nan, nan) for an empty set."""
    if len(dataset) == 0:
        return float("nan"), float("nan")
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    loader = make_loader(dataset, batch_size, shuffle=False)
    with torch.inference_mode():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            logits = model(inputs).float()
            loss_sum += F.cross_entropy(logits, targets, reduction="sum")
            correct += (logits.argmax(1) == targets).sum()
    model.train(was_training)
    return float(loss_sum) / len(dataset), float(correct) / len(dataset)


def _explain(exc: BaseException) -> BaseException:
    """Turn a bad training image into a TrainingError that says what to do; pass others through (out of
    memory and disk errors are translated once, at the edge: core.errors.describe_failure)."""
    if isinstance(exc, TrainingError):
        return exc
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return exc
    if isinstance(exc, ImageLoadError):
        return TrainingError(f"could not read a training image: {exc}. Remove or fix that file and train again")
    return exc
