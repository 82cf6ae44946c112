"""The diagnosis in words: what holds a run back, and the one change most likely to help.

    verdict(timing, resources, LoaderSetup(num_workers=0, cpu_count=8, folder_dataset=True, cache_on=False))
    -> Verdict("data-bound", "data-bound: 62 % of each step waits for images: raise workers to 4 or turn on the
                decode cache")

`timing` is a StepTimer.take() payload (or the mean of several), `resources` a ResourceSampler.sample(). The
rules are plain thresholds on the shares of a step; the first that holds wins, in the order data, peers,
GPU idle, overhead, compute.
"""
from __future__ import annotations

from dataclasses import dataclass

DATA_BOUND_SHARE = 0.30  # at least this share of the wall time waiting for batches
SYNC_BOUND_SHARE = 0.25  # waiting for the other processes
GPU_IDLE_SHARE = 0.30  # a CUDA run whose GPU computes less than 70 % of the time
OVERHEAD_SHARE = 0.30  # the loop's own work (logging, callbacks, checkpoints) between steps
BUSY_WORKER_PERCENT = 85.0  # a loader worker using this much of one core is saturated


@dataclass(frozen=True)
class LoaderSetup:
    """What the advice may suggest changing. cache_on: None when the dataset has no decode cache (in memory)."""

    num_workers: int = 0
    cpu_count: int = 1
    folder_dataset: bool = False
    cache_on: bool | None = None


@dataclass(frozen=True)
class Verdict:
    kind: str  # data-bound | sync-bound | gpu-idle | overhead | compute-bound | balanced | idle
    text: str
    share: float  # the share the verdict is about (0..1)


def verdict(timing: dict, resources: dict | None = None, loader: LoaderSetup | None = None) -> Verdict:
    resources = resources or {}
    loader = loader or LoaderSetup(cpu_count=int(resources.get("cpu_count") or 1))
    if not timing.get("steps"):
        return Verdict("idle", "no training steps in this interval (paused, validating or starting)", 0.0)
    data, sync = timing.get("data_share", 0.0), timing.get("sync_share", 0.0)
    other, compute = timing.get("other_share", 0.0), timing.get("compute_share", 0.0)
    gpu_busy = timing.get("gpu_busy_share")
    if data >= DATA_BOUND_SHARE:
        return Verdict("data-bound", f"data-bound: {_pct(data)} of each step waits for images: "
                                     f"{_data_advice(loader, resources)}", data)
    if sync >= SYNC_BOUND_SHARE:
        return Verdict("sync-bound", f"waiting for the other processes: {_pct(sync)} of each step waits in "
                                     "collectives for the slowest process (a slower GPU, uneven batches, or a "
                                     "busy machine)", sync)
    if gpu_busy is not None and 1.0 - gpu_busy >= GPU_IDLE_SHARE:
        return Verdict("gpu-idle", f"GPU idle {_pct(1.0 - gpu_busy)}: the GPU waits for the host between steps "
                                   "(a bigger batch, fewer per-step Python calls, or torch.compile keep it busy)",
                       1.0 - gpu_busy)
    if other >= OVERHEAD_SHARE:
        return Verdict("overhead", f"{_pct(other)} of each step goes to work between steps (logging, callbacks, "
                                   "checkpoints): report less often", other)
    where = "the GPU" if gpu_busy is not None else "the CPU"
    if compute >= 1.0 - DATA_BOUND_SHARE:
        return Verdict("compute-bound", f"compute-bound: {_pct(compute)} of each step computes on {where} "
                                        "(forward, backward, optimizer); the data loader keeps up", compute)
    return Verdict("balanced", f"balanced: {_pct(compute)} computing, {_pct(data)} waiting for data, "
                               f"{_pct(sync)} waiting for other processes", compute)


def _data_advice(loader: LoaderSetup, resources: dict) -> str:
    steps = []
    wanted = _more_workers(loader, resources)
    if wanted is not None:
        steps.append(f"raise workers to {wanted}")
    if loader.folder_dataset and loader.cache_on is False:
        steps.append("turn on the decode cache")
    if not steps:
        steps.append("every core is busy preparing images: use smaller images, lighter augmentation or the "
                     "decode cache")
    return " or ".join(steps)


def _more_workers(loader: LoaderSetup, resources: dict) -> int | None:
    """How many loader workers to try, or None when more would not help (every core is already used)."""
    cores = max(1, loader.cpu_count)
    ceiling = max(1, cores - 1)  # leave the training process its core
    if loader.num_workers >= ceiling:
        return None
    if loader.num_workers == 0:
        return min(4, ceiling)
    busy = resources.get("workers_cpu_percent")
    if busy is not None and busy < BUSY_WORKER_PERCENT * loader.num_workers * 0.5:
        return None  # the workers idle: the wait is elsewhere (disk, a shared lock), more will not help
    return min(loader.num_workers * 2, ceiling)


def verdicts_by_process(timings: dict[int, dict], resources: dict[int, dict] | None = None,
                        loader: LoaderSetup | None = None) -> list[tuple[int, Verdict]]:
    """One verdict per process of a multi-process run, by rank."""
    resources = resources or {}
    return [(rank, verdict(timings[rank], resources.get(rank), loader)) for rank in sorted(timings)]


def _pct(share: float) -> str:
    return f"{round(100 * share)} %"
