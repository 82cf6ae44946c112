"""The trainer's side of the compute breakdown (core.compute): one StepTimer the loop calls at its cheap points,
and every `compute_every_s` seconds (and at the end of each epoch's batches) the interval's numbers of every
process, each with its verdict in words, for the recorder to write as "compute" records (docs/records.md).

A multi-process run agrees on when to measure (with the loop's other per-step flags, so no extra exchange) and
gathers every process's numbers in one small collective; the main process words each one's verdict. With
compute_every_s 0 the timer still runs (two clock reads a step) but nothing is measured or written.
"""
from __future__ import annotations

import math
import os

from core.compute.monitor import ComputeMonitor
from core.compute.timer import StepTimer
from core.compute.verdict import LoaderSetup

# The numbers a process sends (missing ones as NaN): the timer's, then the resource sample's.
NUMBERS = ("wall_s", "steps", "data_wait_s", "compute_s", "sync_s", "other_s", "data_share", "compute_share",
           "sync_share", "other_share", "gpu_busy_share", "cpu_count", "cpu_percent", "rss_mb", "workers",
           "workers_cpu_percent", "workers_rss_mb", "system_memory_percent", "gpu_memory_used_mb",
           "gpu_memory_total_mb", "gpu_allocated_mb", "gpu_reserved_mb", "gpu_util_percent")
WHOLE = ("steps", "cpu_count", "workers")


class StepMeasure:
    def __init__(self, config, data, device):
        self.interval_s = float(getattr(config, "compute_every_s", 0.0) or 0.0)
        self.monitor = ComputeMonitor(device, loader_setup(config, data), interval_s=self.interval_s) \
            if self.interval_s > 0 else None
        # Off: a plain host timer nobody reads (no CUDA events recorded per step).
        self.timer: StepTimer = self.monitor.timer if self.monitor is not None else StepTimer(None)

    def restart(self) -> None:
        """Training steps begin (again): validation, saves and pauses before this are no step's time."""
        if self.monitor is not None:
            self.monitor.restart()

    def due(self, epoch_end: bool) -> bool:
        """Time to measure: the interval has passed, or the epoch's batches are done (a short run is measured
        too). One clock read."""
        return self.monitor is not None and self.timer.steps > 0 and (epoch_end or self.monitor.due())

    def payloads(self, strategy) -> list[dict]:
        """Every process's numbers with its verdict, by rank, on the main process ([] on the others). Called by
        every process at the same step (the `due` they agreed on)."""
        numbers = self.monitor.measure()
        gathered = strategy.gather_numbers([_number(numbers.get(k)) for k in NUMBERS])
        if not strategy.is_main:
            return []
        out = []
        for rank, values in enumerate(gathered):
            found = {k: (int(v) if k in WHOLE else v) for k, v in zip(NUMBERS, values) if math.isfinite(v)}
            out.append({**self.monitor.with_verdict(found), "rank": rank, "world_size": len(gathered)})
        return out


def loader_setup(config, data) -> LoaderSetup:
    """What the verdict's advice may suggest: more loader workers (up to the cores this process may use), the
    decode cache of a folder dataset (on when the training images are held decoded in memory)."""
    from core.data.datasets import FileDataset

    folder = bool(getattr(data.spec, "is_folder", False))
    return LoaderSetup(num_workers=int(config.num_workers), cpu_count=_cores(), folder_dataset=folder,
                       cache_on=(not isinstance(data.train, FileDataset)) if folder else None)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
