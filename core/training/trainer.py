"""The fit loop. Knows nothing of Qt: it reports through plain callbacks and is steered through thread-safe
flags (stop, pause, resume) that it checks between batches, so any thread may call them."""
from __future__ import annotations

import math
import random
import threading
import time
import warnings
from typing import Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.training.callbacks import BatchReport, Callback, EpochMetrics
from core.data import DataBundle
from core.training.guards import EXPLODED_LOSS, check_divergence, divergence_advice
from core.training.guards import early_stop_decision
from core.training.sampling import EpochPosition
from core.io.images import ImageLoadError
from core.models import ModelSpec
from core.models.state import cpu_state_dict
from core.training.optim import OPTIMIZERS, SCHEDULERS, head_parameter_names
from core.training.precision import SpeedOptions
from core.training.sampling import global_batch_count
from core.training.strategy import Strategy, loss_scale
from core.training.runtime import epoch_seed, resolve_device
from core.training.config import TrainConfig
from core.training.errors import DivergedError, TrainingError

PAUSE_EXCHANGE_S = 0.5  # how often the processes of a paused multi-process run agree on (stop, pause)


class Trainer:
    def __init__(self, model: nn.Module, data: DataBundle, config: TrainConfig, model_spec: ModelSpec,
                 callbacks: Iterable[Callback] = (), strategy: Strategy | None = None):
        config.validate()
        self.config = config
        self.data = data
        self.model_spec = model_spec
        self.callbacks = list(callbacks)
        # The strategy owns the device, the wrapping of the model and the reductions over processes.
        self.strategy = strategy if strategy is not None else Strategy(resolve_device(config.device))
        if config.batch_size < self.strategy.world_size:
            raise TrainingError(f"batch size {config.batch_size} is the global batch and must be at least the "
                                f"number of processes ({self.strategy.world_size})")
        self.device = self.strategy.device
        self.speed = SpeedOptions.for_run(config, self.device, model)
        self.model = self.speed.place(model, self.device)  # unwrapped: what checkpoints and inspection see
        self._train_model = self.speed.compiled(self.strategy.wrap_model(self.model))
        self.optimizer = self._make_optimizer()
        self.scheduler = self._make_scheduler()
        self.epoch = 0  # epochs completed
        self.step = 0  # optimizer steps completed
        self.history: list[EpochMetrics] = []
        self._first_loss: float | None = None
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._held = False  # waiting with the other processes of a paused multi-process run
        self._checkpoint_wanted = threading.Event()  # a mid-epoch save, agreed by every process (DDP)
        self._checkpoint_live: dict | None = None  # the epoch's running sums over all processes, while saving
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
        """Paused here, or (another process of a multi-process run) held while the group is paused."""
        return not self._running.is_set() or self._held

    @property
    def pause_wanted(self) -> bool:
        """This process asks for a pause (a DDP group pauses when any process does)."""
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def request_checkpoint(self) -> None:
        """A multi-process run's periodic mid-epoch save: every process reduces the epoch's running sums for
        it, so it is agreed at the next exchange (after the next step, or while paused) and then
        `on_checkpoint_due` fires on every process (rank 0's recorder writes last.pt)."""
        self._checkpoint_wanted.set()

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
            # fp16's loss scale and its growth counter: a resume goes on from them instead of re-learning the
            # scale from 65536 (a run of skipped, overflowing steps at the start of every resumed run).
            "grad_scaler": self.speed.scaler.state_dict() if self.speed.scaler is not None else None,
        }

    def epoch_position(self) -> EpochPosition | None:
        """Where the run is inside the epoch in progress (None between epochs)."""
        live = self._checkpoint_live or self._live
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
        scaler_state = state.get("grad_scaler")
        if self.speed.scaler is not None and scaler_state:  # else (bf16, CPU, an older file) a fresh scale
            self.speed.scaler.load_state_dict(scaler_state)
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
            fn = getattr(cb, hook, None)  # a duck-typed callback may lack the newer hooks (on_train_step, ...)
            if fn is not None:
                fn(self, *args)

    def _serve_weight_requests(self) -> None:
        with self._lock:
            requests, self._weight_requests = self._weight_requests, []
        if requests:
            state = cpu_state_dict(self.model)
            for receiver in requests:
                receiver(state)

    def _wait_if_paused(self) -> None:
        if self._running.is_set():
            return
        self._emit("on_paused", {"epoch": self.epoch + 1, "step": self.step})
        while not self._running.wait(timeout=0.05):
            self._serve_weight_requests()  # inspection keeps working while paused
            self._emit("on_pause_wait")
        self._emit("on_resumed", {"epoch": self.epoch + 1, "step": self.step})

    def _wait_paused_together(self) -> bool:
        """A multi-process pause: every process waits here, exchanging (stop, pause) about every
        PAUSE_EXCHANGE_S, so no collective blocks for the whole pause (it would trip the process-group
        timeout) and a stop (SIGINT) still ends it. Returns the agreed stop."""
        self._held = True
        self._emit("on_paused", {"epoch": self.epoch + 1, "step": self.step})
        try:
            while True:
                self._stop.wait(PAUSE_EXCHANGE_S)  # a signal's stop() wakes it at once
                self._serve_weight_requests()
                self._emit("on_pause_wait")
                stop, pause, save = self.strategy.agree(self._stop.is_set(), self.pause_wanted,
                                                        self._checkpoint_wanted.is_set())
                if save and not stop:
                    self._save_agreed_checkpoint(self._live)
                if stop or not pause:
                    return stop
        finally:
            self._held = False
            self._emit("on_resumed", {"epoch": self.epoch + 1, "step": self.step})

    def fit(self) -> dict:
        """Train from the current epoch to config.epochs. Returns a summary dict (also given to callbacks)."""
        cfg = self.config
        try:
            train_len = len(self.data.train)
            if train_len == 0:
                raise TrainingError("the training set is empty; add images (one sub-folder per class)")
            batches = self.strategy.batches_per_epoch(train_len, cfg.batch_size)
            total_steps = batches * cfg.epochs
            if self._resume_position is None and self._live:  # fit() again after a stop: go on mid-epoch
                self._resume_position = self.epoch_position()
            self._emit("on_fit_start", {
                "epochs": cfg.epochs, "start_epoch": self.epoch, "batches_per_epoch": batches,
                "total_steps": total_steps, "device": self._device_text(), "train_size": train_len,
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

    def _save_agreed_checkpoint(self, live: dict | None) -> None:
        """Every process: the running sums reduced over all of them for the save (the local ones go on)."""
        self._checkpoint_wanted.clear()
        if not live:
            return
        reduced = dict(live)
        self._agree_on_live_sums(reduced)
        self._checkpoint_live = reduced
        try:
            self._emit("on_checkpoint_due")
        finally:
            self._checkpoint_live = None

    def _agree_on_live_sums(self, live: dict | None) -> None:
        """At a stop, the epoch's running sums over all processes (rank 0 saves them in last.pt)."""
        if not self.strategy.distributed or not live:
            return
        seen = torch.tensor(float(live["seen"]), device=self.device, dtype=torch.float64)
        sums = self.strategy.all_reduce_sum(torch.stack([torch.as_tensor(live["loss_sum"]).double().to(self.device),
                                                         torch.as_tensor(live["correct"]).double().to(self.device), seen]))
        live["loss_sum"], live["correct"], live["seen"] = float(sums[0]), int(sums[1].item()), int(sums[2].item())

    def _device_text(self) -> str:
        world = self.strategy.world_size
        return f"{self.device} x {world} processes" if world > 1 else str(self.device)

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
            torch.manual_seed(epoch_seed(cfg.seed, self.epoch))
        else:
            torch.set_rng_state(position.rng)  # mid-epoch resume: continue the random draws where they stopped
        done = position.batch if position else 0
        strategy = self.strategy
        loader = strategy.train_loader(self.data.train, cfg.batch_size, seed=cfg.seed, epoch=self.epoch,
                                       skip_batches=done, num_workers=cfg.num_workers, pin_memory=self._use_cuda)
        train_size = len(self.data.train)
        self.model.train()
        epoch_start = time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        if position is not None and strategy.is_main:  # saved sums are over all processes: counted once
            loss_sum += position.loss_sum
            correct += position.correct
            seen = position.seen
        pending: list[tuple[int, torch.Tensor]] = []
        last_report = time.perf_counter()
        images_since_report = 0
        batch_index = done
        live = self._live = {"batch": batch_index, "loss_sum": loss_sum, "correct": correct, "seen": seen}
        batch_iter = iter(loader)
        # Processes agree on stopping (else the others would wait for a stopped one): once here, then with
        # the report flag after each step, in one small exchange.
        agreed_stop = agreed_pause = False
        if strategy.distributed:
            agreed_stop, agreed_pause = strategy.agree(self._stop.is_set(), self.pause_wanted)
        while batch_index < batches:
            # Stop is checked before the next batch is drawn, so the saved RNG state is the one after the
            # last done batch and a resume draws the same augmentation and dropout.
            if agreed_pause and not agreed_stop:
                agreed_stop, agreed_pause = self._wait_paused_together(), False
            if agreed_stop:
                self._agree_on_live_sums(live)
                return False
            if not strategy.distributed:
                if self._stop.is_set():
                    return False
                self._wait_if_paused()
                if self._stop.is_set():
                    return False
            try:
                inputs, targets = next(batch_iter)
            except StopIteration:
                break
            inputs = self.speed.inputs(inputs, self.device)
            targets = targets.to(self.device, non_blocking=True)
            n = targets.shape[0]
            global_n = global_batch_count(train_size, cfg.batch_size, batch_index)
            with self.speed.autocast(self.device):
                logits = self._train_model(inputs)
                if strategy.distributed:  # DDP averages over processes: this makes it the global batch mean
                    loss = F.cross_entropy(logits.float(), targets, reduction="sum") * loss_scale(n, global_n, strategy.world_size)
                else:
                    loss = F.cross_entropy(logits, targets)
            self.optimizer.zero_grad(set_to_none=True)
            self.speed.backward_and_step(loss, self.optimizer)
            self.step += 1
            batch_index += 1
            self._emit("on_train_step")
            seen += n
            live["batch"], live["seen"] = batch_index, seen
            images_since_report += global_n
            detached = loss.detach()
            loss_sum += detached * (global_n / strategy.world_size if strategy.distributed else n)
            correct += (logits.detach().argmax(1) == targets).sum()
            pending.append((self.step, detached))
            self._serve_weight_requests()
            now = time.perf_counter()
            due = now - last_report >= cfg.report_interval_s
            if strategy.distributed:
                agreed_stop, due, agreed_pause, agreed_save = strategy.agree(
                    self._stop.is_set(), due, self.pause_wanted, self._checkpoint_wanted.is_set())
                # The steps before a pause or a save are written before its "paused" / "checkpoint" record.
                due = due or agreed_pause or agreed_save
            else:
                agreed_save = False
            if due or batch_index == batches:
                # One device->host copy per report, not per step (a sum over processes in DDP).
                stacked = torch.stack([t for _, t in pending]).float()
                if strategy.distributed:
                    stacked = strategy.all_reduce_sum(stacked) / strategy.world_size
                values = stacked.cpu().tolist()
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
            if agreed_save and not agreed_stop:
                self._save_agreed_checkpoint(live)
        if agreed_stop if strategy.distributed else self._stop.is_set():
            self._agree_on_live_sums(live)
            return False
        train_duration = time.perf_counter() - epoch_start
        if strategy.distributed:
            sums = strategy.all_reduce_sum(torch.stack([loss_sum.double(), correct.double(),
                                                        torch.tensor(float(seen), device=self.device, dtype=torch.float64)]))
            loss_sum, correct, seen = sums[0], sums[1], int(sums[2].item())
        self.phase = "evaluating"
        self._emit("on_validation_start")
        try:
            val_loss, val_acc = strategy.evaluate(self.model, self.data.val, cfg.batch_size * 2)
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
        self._checkpoint_wanted.clear()  # the epoch's end saves last.pt anyway (on every process alike)
        self._emit("on_epoch_end", metrics)
        return True


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
