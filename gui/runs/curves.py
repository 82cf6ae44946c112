"""Every point of one run's curves, kept in growable numpy buffers and extended from its records.

RunCurves.update() asks the run's follower (core.runs.follower.RunFollower) for the records written since the last
call (it remembers its byte offset, so a poll reads only what is new; it skips half-written and garbage lines
and survives a truncated or replaced file) and appends them, each step and epoch once (a resume rewinds the
curves, core.runs.reducer). Qt-free: the Runs tab calls
update() on its worker thread and draws the buffers on the GUI thread.
"""
from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import numpy as np

from core.runs.follower import RunFollower
from core.runs.reducer import Rewind, rewind_of
from gui.plotting.plot_buffer import PlotBuffer

X_MODES = ("step", "epoch", "wall")


def _num(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


class RunCurves:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.follower = RunFollower(self.path)  # the folder: its metrics.jsonl, waited for until it is there
        self.loss = PlotBuffer()  # x: step
        self.lr = PlotBuffer()
        self.step_time = PlotBuffer(64)  # (step, wall time) anchors for the wall-time axis
        self.epoch_step = PlotBuffer(64)  # (epoch, step at its end)
        self.epoch_time = PlotBuffer(64)
        self.val_loss = PlotBuffer(64)  # x: epoch
        self.val_acc = PlotBuffer(64)
        self.train_loss = PlotBuffer(64)
        self.start_time: float | None = None
        self.batches_per_epoch: int | None = None
        self.records = 0
        # update() runs on a worker thread, drawing on the GUI thread: appends and reads of the buffers
        # happen under this lock, so x and y are always read at the same length.
        self.lock = threading.Lock()

    def update(self) -> bool:
        """Append the records written since the last update; True when anything was new. A "resume" record
        rewinds the curves to its position first (core.runs.reducer): the steps and epochs a killed run wrote
        after its last checkpoint are written again by the resumed run, and each shows once."""
        records = self.follower.poll()
        if not records:
            return False
        part: list = []
        for r in records:
            rewind = rewind_of(r)
            if rewind is not None:
                self._append(part)
                part = []
                self._rewind(rewind)
            part.append(r)
        self._append(part)
        return True

    def _append(self, records: list) -> None:
        steps, losses, lr_steps, lrs, times, epochs = [], [], [], [], [], []
        for r in records:
            kind = r.get("kind")
            if kind == "step":
                step = _num(r.get("step"))
                steps.append(step)
                losses.append(_num(r.get("loss")))
                if r.get("lr") is not None:
                    lr_steps.append(step)
                    lrs.append(_num(r.get("lr")))
                t = r.get("time")
                if t is not None and (not times or step - times[-1][0] >= 50):  # anchors, not every step
                    times.append((step, _num(t)))
            elif kind == "epoch":
                epochs.append(r)
            elif kind == "start":
                if self.start_time is None and r.get("time") is not None:
                    self.start_time = _num(r.get("time"))
                bpe = r.get("batches_per_epoch")
                if isinstance(bpe, int) and bpe > 0:
                    self.batches_per_epoch = bpe
        with self.lock:
            self.loss.extend(steps, losses)
            self.lr.extend(lr_steps, lrs)
            for step, t in times:
                if math.isfinite(t):
                    self.step_time.append(step, t)
            for r in epochs:
                self._add_epoch(r)
            self.records += len(records)

    def _rewind(self, rewind: Rewind) -> None:
        with self.lock:
            for buffer in (self.loss, self.lr):
                buffer.drop_after(rewind.step)
            for buffer in (self.epoch_step, self.epoch_time, self.val_loss, self.val_acc, self.train_loss):
                buffer.drop_after(rewind.epoch)
            # The wall-time anchors mix steps and epoch ends, so they are not sorted: keep by value.
            keep = self.step_time.x <= rewind.step
            xs, ys = self.step_time.x[keep].copy(), self.step_time.y[keep].copy()
            self.step_time.clear()
            self.step_time.extend(xs, ys)

    def _add_epoch(self, r: dict) -> None:
        epoch = _num(r.get("epoch"))
        if not math.isfinite(epoch):
            return
        self.val_loss.append(epoch, _num(r.get("val_loss")))
        self.val_acc.append(epoch, _num(r.get("val_acc")))
        self.train_loss.append(epoch, _num(r.get("train_loss")))
        step = _num(r.get("step"))
        self.epoch_step.append(epoch, step)
        t = _num(r.get("time"))
        if math.isfinite(step) and math.isfinite(t):
            self.step_time.append(step, t)
        self.epoch_time.append(epoch, t)
        if self.batches_per_epoch is None and math.isfinite(step) and epoch > 0:
            self.batches_per_epoch = max(1, int(step / epoch))

    # ---- x values for each axis mode ----------------------------------------------------------------
    def step_x(self, steps: np.ndarray, mode: str) -> np.ndarray:
        if mode == "epoch":
            return steps / float(self.batches_per_epoch or 1)
        if mode == "wall":
            order = np.argsort(self.step_time.x, kind="stable")
            anchors_x, anchors_t = self.step_time.x[order], self.step_time.y[order]
            if anchors_x.size == 0:
                return np.full_like(steps, np.nan)
            t0 = self.start_time if self.start_time is not None else anchors_t[0]
            return np.interp(steps, anchors_x, anchors_t) - t0
        return steps

    def epoch_x(self, mode: str) -> np.ndarray:
        if mode == "step":
            return self.epoch_step.y
        if mode == "wall":
            t0 = self.start_time
            if t0 is None:
                t0 = self.epoch_time.y[0] if len(self.epoch_time) else 0.0
            return self.epoch_time.y - t0
        return self.val_acc.x

    def best_epoch_index(self) -> int | None:
        """Index of the epoch with the highest validation accuracy (None when there is none)."""
        acc = self.val_acc.y
        if not np.isfinite(acc).any():
            return None
        return int(np.nanargmax(acc))

    def lowest_loss_index(self) -> int | None:
        """Index of the epoch with the lowest validation loss (None when there is none)."""
        loss = self.val_loss.y
        if not np.isfinite(loss).any():
            return None
        return int(np.nanargmin(loss))
