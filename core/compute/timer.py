"""Where each training step's time goes: waiting for the next batch, computing it, waiting for the other
processes. The trainer calls a StepTimer at a few cheap points of its loop and takes a summary at each report.

    timer = StepTimer(device)
    for inputs, targets in timer.batches(loader):   # the wait inside next() is data time
        ...forward, backward, optimizer step...
        timer.step_done()                           # batch arrived -> here is compute time
        with timer.syncing():                       # (several processes) agree / all_reduce: sync time
            ...
    payload = timer.take()                          # at report time: sums and shares since the last take

Cost: two perf_counter() calls per step on the CPU. On CUDA the host runs ahead of the GPU, so host clocks say
nothing about compute: each step records a CUDA event pair instead (no synchronisation), and the elapsed times
are read in take(), after one synchronisation on the last event - never per step.
"""
from __future__ import annotations

import contextlib
import time
from typing import Iterable, Iterator

PAYLOAD_KEYS = ("wall_s", "steps", "data_wait_s", "compute_s", "sync_s", "other_s",
                "data_share", "compute_share", "sync_share", "other_share")


class StepTimer:
    def __init__(self, device=None, clock=time.perf_counter):
        self.clock = clock
        self._cuda = _is_cuda(device)
        self._events: list[tuple[object, object]] = []  # CUDA (start, end) per step since the last take
        self._reset(clock())

    def _reset(self, now: float) -> None:
        self._since = now
        self.data_wait_s = 0.0
        self.compute_host_s = 0.0
        self.sync_s = 0.0
        self.steps = 0
        self._batch_at: float | None = None
        self._start_event = None

    def restart(self) -> None:
        """Forget everything since the last take and start a new interval now."""
        self._events.clear()
        self._reset(self.clock())

    # ---- the loop's calls -------------------------------------------------------------------------------
    def batches(self, loader: Iterable) -> Iterator:
        """Yield the loader's batches, timing each wait for the next one."""
        iterator = iter(loader)
        while True:
            self.waiting_for_data()
            try:
                batch = next(iterator)
            except StopIteration:
                self._batch_at = None
                return
            self.data_ready()
            yield batch

    def waiting_for_data(self) -> None:
        self._wait_from = self.clock()

    def data_ready(self) -> None:
        now = self.clock()
        self.data_wait_s += now - self._wait_from
        self._batch_at = now
        if self._cuda:
            self._start_event = _record_event()

    def step_done(self) -> None:
        """After the optimizer step: the time since the batch arrived was compute."""
        if self._batch_at is None:
            return
        self.compute_host_s += self.clock() - self._batch_at
        self._batch_at = None
        self.steps += 1
        if self._cuda and self._start_event is not None:
            self._events.append((self._start_event, _record_event()))
            self._start_event = None

    @contextlib.contextmanager
    def syncing(self):
        """Around a collective (agree, all_reduce): time spent waiting for the other processes."""
        start = self.clock()
        try:
            yield
        finally:
            self.sync_s += self.clock() - start

    # ---- the report -------------------------------------------------------------------------------------
    def take(self) -> dict:
        """Sums and shares since the last take (then starts a new interval). Shares are of the wall time."""
        now = self.clock()
        wall = max(now - self._since, 1e-12)
        compute = self._gpu_compute_s() if self._cuda else self.compute_host_s
        # Time inside collectives lies between step_done and the next batch on the CPU, so it is not compute.
        other = max(0.0, wall - self.data_wait_s - compute - self.sync_s)
        payload = {"wall_s": wall, "steps": self.steps, "data_wait_s": self.data_wait_s, "compute_s": compute,
                   "sync_s": self.sync_s, "other_s": other}
        for name in ("data_wait", "compute", "sync", "other"):
            payload[f"{name.replace('_wait', '')}_share"] = min(1.0, payload[f"{name}_s"] / wall)
        if self._cuda:
            payload["gpu_busy_share"] = min(1.0, compute / wall)
        self._reset(now)
        return payload

    def _gpu_compute_s(self) -> float:
        events, self._events = self._events, []
        if not events:
            return 0.0
        events[-1][1].synchronize()  # the one wait: every earlier event on the stream is done too
        return sum(start.elapsed_time(end) for start, end in events) / 1000.0


def _is_cuda(device) -> bool:
    if device is None:
        return False
    return str(getattr(device, "type", device)).startswith("cuda")


def _record_event():
    import torch

    event = torch.cuda.Event(enable_timing=True)
    event.record()
    return event
