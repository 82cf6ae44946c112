"""The fit loop, in small pieces over seams (Lightning Fabric's build-your-own-trainer is the model).

The loop knows nothing of devices and processes: the strategy (core.training.strategy) places and wraps the
model, makes the loader, computes the loss, reduces sums over processes and agrees on what was asked (stop,
pause, a checkpoint) so every process acts at the same step. What watches the run (the guards against
divergence and for early stopping, the recorder of the run folder, the dossier) is a callback, installed by
the session (core.training.session). Knows nothing of Qt either: it reports through callbacks and is steered
through thread-safe requests (core.training.steering) that it reads between batches, so any thread may call
stop, pause, resume, request_checkpoint and request_weights.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

import torch
import torch.nn as nn

from core.data import DataBundle
from core.io.images import ImageLoadError
from core.models import ModelSpec
from core.models.state import cpu_state_dict
from core.training.callbacks import (BatchReport, Callback, CallbackList, EpochMetrics, FitStart, FitSummary, RunPoint,
                                     RunView, Validation)
from core.training.clock import RunClock
from core.training.config import TrainConfig
from core.training.errors import TrainingError
from core.training.measure import StepMeasure
from core.training.optim import SCHEDULERS, make_optimizer
from core.training.precision import SpeedOptions
from core.training.runtime import epoch_seed, resolve_device
from core.training.sampling import global_batch_count
from core.training.state import TrainingState, restore_rng
from core.training.steering import Steering
from core.training.strategy import Strategy


@dataclass(slots=True)
class _Plan:
    """One fit: its size and where it started (for the ETA)."""

    batches: int  # per epoch
    total_steps: int
    train_size: int
    steps_at_start: int
    started: float = 0.0


@dataclass(slots=True)
class _Window:
    """The steps since the last report: their losses stay on the device until the report reads them at once."""

    started: float
    pending: list  # (step, loss tensor)
    images: int = 0  # over all processes


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
        self.optimizer = make_optimizer(self.model, config)
        self.scheduler = SCHEDULERS[config.schedule](self.optimizer, config)
        self.state = TrainingState()
        self.phase = "training"  # or "evaluating"; read by the run folder's heartbeat
        self.early_stop: dict | None = None  # a guard's decision that finished the run early
        self._steering = Steering()
        self.clock = RunClock()  # stands still while paused: durations, images/s and the ETA exclude pauses
        self._saving: TrainingState | None = None  # the state over all processes, while a checkpoint is due
        self._hooks = CallbackList(self.callbacks)
        self._run = RunView(self)
        self._measure = StepMeasure(config, data, self.device)  # where each step's time goes (core.compute)
        self.strategy.time_collectives(self._measure.timer)

    # ---- thread-safe control -------------------------------------------------------------------------
    def stop(self) -> None:
        self._steering.stop()

    def pause(self, reason: str = "") -> None:
        """reason: why, for the "paused" record and the console (who paused the run)."""
        self._steering.pause(reason)

    def resume(self, reason: str = "") -> None:
        self._steering.resume(reason)

    @property
    def paused(self) -> bool:
        """Paused here, or (another process of a multi-process run) held while the group is paused."""
        return self._steering.pause_wanted or self._steering.held

    @property
    def pause_wanted(self) -> bool:
        """This process asks for a pause (a DDP group pauses when any process does)."""
        return self._steering.pause_wanted

    @property
    def stop_requested(self) -> bool:
        return self._steering.stop_wanted

    def request_checkpoint(self) -> None:
        """A mid-epoch save at the next point every process agrees on (one process: after the report that
        asked, or the next step): the running sums are reduced for it, then `on_checkpoint_due` fires on every
        process (rank 0's recorder writes last.pt)."""
        self._steering.request_checkpoint()

    def request_weights(self, receiver: Callable[[dict], None]) -> None:
        """At the next batch boundary, call `receiver` (on the training thread) with a CPU copy of the
        model's state dict. Used to inspect the model while it trains without touching the live one."""
        self._steering.request_weights(receiver)

    def finish_early(self, decision: dict) -> None:
        """End the fit after this epoch as finished, not stopped (an early-stopping guard's decision, which
        the summary carries). On the training thread, from a callback."""
        self.early_stop = decision

    # ---- where the run is ----------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.state.epoch  # epochs completed

    @property
    def step(self) -> int:
        return self.state.step  # optimizer steps completed

    @property
    def history(self) -> list[EpochMetrics]:
        return self.state.history

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[-1]["lr"])

    # ---- state for checkpoints -----------------------------------------------------------------------
    def training_state(self) -> dict:
        """What a checkpoint saves beside the weights, as one mapping (core.training.state)."""
        state = self._saving or self.state
        return {**state.to_mapping(self.config.seed),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                # fp16's loss scale and its growth counter: a resume goes on from them instead of re-learning
                # the scale from 65536 (a run of skipped, overflowing steps at the start of every resumed run).
                "grad_scaler": self.speed.scaler.state_dict() if self.speed.scaler is not None else None,
                "config": self.config.to_dict(), "data_spec": self.data.spec.to_dict()}

    def load_training_state(self, mapping: dict) -> None:
        state = TrainingState.from_mapping(mapping)
        self.optimizer.load_state_dict(mapping["optimizer"])
        self.state = state
        self._restore_schedule(mapping)
        scaler_state = mapping.get("grad_scaler")
        if self.speed.scaler is not None and scaler_state:  # else (bf16, CPU, an older file) a fresh scale
            self.speed.scaler.load_state_dict(scaler_state)
        restore_rng(mapping)

    def _restore_schedule(self, mapping: dict) -> None:
        planned = int(mapping.get("config", {}).get("epochs", self.config.epochs))
        if isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and planned != self.config.epochs:
            # The run was extended: re-plan the cosine curve over the new total, continuing from this epoch.
            epoch = self.state.epoch
            self.scheduler.last_epoch = epoch
            for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
                group["lr"] = base * (1 + math.cos(math.pi * epoch / self.config.epochs)) / 2
        elif self.scheduler is not None and mapping.get("scheduler"):
            self.scheduler.load_state_dict(mapping["scheduler"])

    # ---- the fit -------------------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train from the current epoch to config.epochs. Returns the summary (FitSummary) as a plain dict."""
        hooks = self._hooks = CallbackList(self.callbacks)
        try:
            plan = self._plan()
            self.early_stop = None
            hooks.on_fit_start(self._run, self._fit_start(plan))
            plan.started = self.clock.now()
            finished = self._train_epochs(plan)
            summary = self._summary(stopped=not finished)
            if finished:
                hooks.on_fit_end(self._run, summary)
            else:
                hooks.on_stopped(self._run, summary)
                self._steering.fit_stopped()
            return summary.to_dict()
        except BaseException as exc:
            error = _explain(exc)
            hooks.on_error(self._run, error)
            raise error from exc

    def _plan(self) -> _Plan:
        train_size = len(self.data.train)
        if train_size == 0:
            raise TrainingError("the training set is empty; add images (one sub-folder per class)")
        batches = self.strategy.batches_per_epoch(train_size, self.config.batch_size)
        return _Plan(batches, batches * self.config.epochs, train_size, self.state.step)

    def _fit_start(self, plan: _Plan) -> FitStart:
        state, world = self.state, self.strategy.world_size
        device = f"{self.device} x {world} processes" if world > 1 else str(self.device)
        return FitStart(epochs=self.config.epochs, start_epoch=state.epoch, batches_per_epoch=plan.batches,
                        total_steps=plan.total_steps, device=device, train_size=plan.train_size,
                        val_size=len(self.data.val), classes=list(self.data.classes), step=state.step,
                        start_batch=state.batch)

    def _train_epochs(self, plan: _Plan) -> bool:
        """Epochs until the last or a guard's early finish; False when a stop ended the fit."""
        while self.state.epoch < self.config.epochs and self.early_stop is None:
            if not self._train_one_epoch(plan):
                return False
        return True

    def _summary(self, stopped: bool) -> FitSummary:
        history = self.state.history
        return FitSummary(stopped=stopped, epoch=self.state.epoch, step=self.state.step, batch=self.state.batch,
                          last=history[-1].to_dict() if history else {},
                          best_val_acc=max((m.val_acc for m in history), default=None), early_stop=self.early_stop)

    # ---- one epoch -----------------------------------------------------------------------------------
    def _train_one_epoch(self, plan: _Plan) -> bool:
        """The epoch's batches, then its validation; False when a stop ended it."""
        started = self.clock.now()
        if not self._train_batches(self._begin_epoch(), plan):
            self._agree_on_progress()  # the checkpoint at the stop holds the sums over all processes
            return False
        self._end_epoch(started)
        return True

    def _begin_epoch(self) -> Iterator:
        """The RNG, the running sums and the loader, from the first batch not yet done."""
        state, cfg = self.state, self.config
        if state.batch == 0:
            # Seeding per epoch makes shuffling, augmentation and dropout depend only on (seed, epoch): a run
            # resumed from a checkpoint replays exactly the epochs it would have run.
            torch.manual_seed(epoch_seed(cfg.seed, state.epoch))
        elif state.rng is not None:
            torch.set_rng_state(state.rng)  # a resume mid-epoch: go on with the draws where they stopped
        state.rng = None
        loader = self.strategy.train_loader(self.data.train, cfg.batch_size, seed=cfg.seed, epoch=state.epoch,
                                            skip_batches=state.batch, num_workers=cfg.num_workers,
                                            pin_memory=self.device.type == "cuda")
        self.model.train()
        self._start_running_sums()
        return iter(loader)

    def _start_running_sums(self) -> None:
        """On the device, read once an epoch. Going on mid-epoch they start from the saved sums, which are over
        all processes: counted once, by the main process."""
        state = self.state
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        if state.batch and self.strategy.is_main:
            loss_sum += float(state.loss_sum)
            correct += int(state.correct)
            seen = int(state.seen)
        state.loss_sum, state.correct, state.seen = loss_sum, correct, seen

    def _train_batches(self, batches: Iterator, plan: _Plan) -> bool:
        state, timer = self.state, self._measure.timer
        window = _Window(self.clock.now(), [])
        # Processes agree on what was asked (else the others would wait for a stopped one): once here, then
        # with the report flag after each step, in one small exchange.
        stop, pause = self.strategy.agree(self._steering.stop_wanted, self._steering.pause_wanted)
        self._measure.restart()  # validation and saves since the last epoch are no step's time
        while state.batch < plan.batches:
            # Stop is acted on before the next batch is drawn, so the saved RNG state is the one after the
            # last done batch and a resume draws the same augmentation and dropout.
            if pause and not stop:
                stop, pause = self._hold(), False
            if stop:
                return False
            timer.waiting_for_data()
            try:
                inputs, targets = next(batches)
            except StopIteration:
                break
            timer.data_ready()
            self._train_step(inputs, targets, window, plan)
            timer.step_done()
            self._serve_weight_requests()
            stop, pause = self._exchange(window, plan)
        return not stop

    def _train_step(self, inputs, targets, window: _Window, plan: _Plan) -> None:
        state, speed, strategy = self.state, self.speed, self.strategy
        inputs = speed.inputs(inputs, self.device)
        targets = targets.to(self.device, non_blocking=True)
        n = targets.shape[0]
        global_n = global_batch_count(plan.train_size, self.config.batch_size, state.batch)
        with speed.autocast(self.device):
            logits = self._train_model(inputs)
            loss = strategy.batch_loss(logits, targets, global_n)
        self.optimizer.zero_grad(set_to_none=True)
        speed.backward_and_step(loss, self.optimizer)
        state.step += 1
        state.batch += 1
        self._hooks.on_train_step(self._run)
        detached = loss.detach()
        state.seen += n
        state.loss_sum += strategy.loss_total(detached, n, global_n)
        state.correct += (logits.detach().argmax(1) == targets).sum()
        window.pending.append((state.step, detached))
        window.images += global_n

    def _exchange(self, window: _Window, plan: _Plan) -> tuple[bool, bool]:
        """After a step: agree on what was asked and on reporting, report, save; (stop, pause) to act on."""
        now = self.clock.now()
        due = now - window.started >= self.config.report_interval_s
        measure = self._measure.due(epoch_end=self.state.batch == plan.batches)
        stop, pause, save, due, measure = self.strategy.agree(*self._steering.flags(), due, measure)
        # The steps before a pause or a save are written before its "paused" / "checkpoint" record.
        if due or measure or pause or save or self.state.batch == plan.batches:
            self._report(window, plan, now, measure)
            stop, pause, save = self.strategy.settled((stop, pause, save), self._steering)
        if save and not stop:
            self._save_agreed_checkpoint()
        return stop, pause

    def _report(self, window: _Window, plan: _Plan, now: float, measure: bool = False) -> None:
        """One device->host copy per report, not per step (a mean over processes in DDP); with `measure`, every
        process's compute breakdown since the last one rides along."""
        state = self.state
        compute = self._measure.payloads(self.strategy) if measure else []
        stacked = torch.stack([t for _, t in window.pending]).float()
        values = self.strategy.mean_over_processes(stacked).cpu().tolist()
        losses = [(s, v) for (s, _), v in zip(window.pending, values)]
        done, elapsed = state.step - plan.steps_at_start, now - plan.started
        report = BatchReport(epoch=state.epoch + 1, epochs=self.config.epochs, batch=state.batch,
                             batches_per_epoch=plan.batches, step=state.step, total_steps=plan.total_steps,
                             losses=losses, lr=self.lr, images_per_sec=window.images / max(now - window.started, 1e-9),
                             elapsed_s=elapsed, eta_s=elapsed / done * (plan.total_steps - state.step) if done else None,
                             compute=compute)
        window.pending.clear()
        window.started, window.images = now, 0
        self._hooks.on_batch_end(self._run, report)

    def _end_epoch(self, started: float) -> None:
        """Validate, step the schedule, and close the epoch with its metrics."""
        train_s = self.clock.now() - started
        loss_sum, correct, seen = self._sums_over_processes()
        validation = self._validate()
        self._step_schedule()
        state = self.state
        metrics = EpochMetrics(
            epoch=state.epoch + 1, step=state.step, train_loss=loss_sum / max(seen, 1),
            train_acc=correct / max(seen, 1), val_loss=validation.loss, val_acc=validation.accuracy, lr=self.lr,
            images_per_sec=seen / max(train_s, 1e-9), duration_s=self.clock.now() - started)
        state.end_epoch(metrics)
        self._steering.checkpoint_taken()  # the epoch's end saves last.pt anyway (on every process alike)
        self._hooks.on_epoch_end(self._run, metrics)

    def _validate(self) -> Validation:
        self.phase = "evaluating"
        self._hooks.on_validation_start(self._run)
        try:
            loss, accuracy = self.strategy.evaluate(self.model, self.data.val, self.config.batch_size * 2)
        finally:
            self.phase = "training"
        validation = Validation(self.state.epoch + 1, loss, accuracy, len(self.data.val))
        self._hooks.on_validation_end(self._run, validation)
        return validation

    def _step_schedule(self) -> None:
        if self.scheduler is None:
            return
        with warnings.catch_warnings():  # a resume at the end of an epoch's batches steps no optimizer first
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
            self.scheduler.step()

    # ---- between batches: pause, checkpoints, weights ------------------------------------------------
    def _hold(self) -> bool:
        """Wait while the run is paused (inspection and the callbacks' polls go on); returns the agreed stop."""
        steering, hooks = self._steering, self._hooks
        steering.held = True
        self.clock.pause()
        hooks.on_paused(self._run, self._point(steering.pause_reason))
        try:
            while True:
                self.strategy.wait_while_paused(steering)
                self._serve_weight_requests()
                hooks.on_pause_wait(self._run)
                stop, pause, save = self.strategy.agree(*steering.flags())
                if save and not stop:
                    self._save_agreed_checkpoint()
                if stop or not pause:
                    return stop
        finally:
            steering.held = False
            self.clock.resume()
            hooks.on_resumed(self._run, self._point(steering.resume_reason))
            self._measure.restart()  # the pause is no step's time

    def _point(self, reason: str = "") -> RunPoint:
        return RunPoint(epoch=self.state.epoch + 1, step=self.state.step, batch=self.state.batch, reason=reason)

    def _save_agreed_checkpoint(self) -> None:
        """Every process: the state with the running sums over all of them, for the save (the local sums go on)."""
        self._steering.checkpoint_taken()
        if not self.state.batch:
            return
        loss_sum, correct, seen = self._sums_over_processes()
        self._saving = replace(self.state, loss_sum=loss_sum, correct=correct, seen=seen)
        try:
            self._hooks.on_checkpoint_due(self._run, self._point())
        finally:
            self._saving = None

    def _agree_on_progress(self) -> None:
        """At a stop: the epoch's running sums become the sums over all processes (rank 0 saves them)."""
        state = self.state
        if state.batch:
            state.loss_sum, state.correct, state.seen = self._sums_over_processes()

    def _sums_over_processes(self) -> tuple[float, int, int]:
        """The epoch's (loss sum, right answers, images) over all processes: one exchange and one read."""
        state, device = self.state, self.device
        local = torch.stack([torch.as_tensor(state.loss_sum).double().to(device),
                             torch.as_tensor(state.correct).double().to(device),
                             torch.tensor(float(state.seen), device=device, dtype=torch.float64)])
        loss_sum, correct, seen = self.strategy.all_reduce_sum(local).tolist()
        return loss_sum, int(correct), int(seen)

    def _serve_weight_requests(self) -> None:
        receivers = self._steering.take_weight_requests()
        if receivers:
            state = cpu_state_dict(self.model)
            for receiver in receivers:
                receiver(state)


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
