"""What the machine is doing for a run: CPU use of the training process and of its loader workers (its child
processes), memory, and on CUDA the GPU's utilisation and memory.

psutil measures the processes (its cpu_percent is the share since the previous call, so the Process objects
are kept between samples). The GPU's utilisation comes from NVML (nvidia-ml-py, through torch.cuda.utilization
when it can reach it); memory from torch's own allocator. Every GPU figure is optional: missing on the CPU,
without NVML, or when a driver call fails. A sample costs about a millisecond, so take one per report
interval of a second or more, not per step.
"""
from __future__ import annotations

import os

import psutil

MIB = 1024 * 1024


class ResourceSampler:
    def __init__(self, pid: int | None = None, device=None):
        self.process = psutil.Process(pid or os.getpid())
        self.device = device
        self._children: dict[int, psutil.Process] = {}
        self.process.cpu_percent(None)  # primes the first interval

    def sample(self) -> dict:
        """A flat dict of plain numbers (see keys below); GPU keys only when there is a figure."""
        out = {"cpu_count": psutil.cpu_count() or 1}
        with self.process.oneshot():
            out["cpu_percent"] = self.process.cpu_percent(None)
            out["rss_mb"] = self.process.memory_info().rss / MIB
        workers = self._worker_processes()
        out["workers"] = len(workers)
        out["workers_cpu_percent"], out["workers_rss_mb"] = _sum_usage(workers)
        out["system_memory_percent"] = psutil.virtual_memory().percent
        out.update(gpu_sample(self.device))
        return out

    def _worker_processes(self) -> list[psutil.Process]:
        """The process's children (DataLoader workers), the same objects from sample to sample."""
        try:
            found = {p.pid: p for p in self.process.children(recursive=True)}
        except psutil.Error:
            found = {}
        kept = {}
        for pid, proc in found.items():
            if pid not in self._children:
                try:
                    proc.cpu_percent(None)  # its first reading would be meaningless 0.0: start its interval
                except psutil.Error:
                    continue
            kept[pid] = self._children.get(pid, proc)
        fresh = [p for pid, p in kept.items() if pid in self._children]
        self._children = kept
        return fresh


def _sum_usage(processes: list[psutil.Process]) -> tuple[float, float]:
    cpu = rss = 0.0
    for proc in processes:
        try:
            with proc.oneshot():
                cpu += proc.cpu_percent(None)
                rss += proc.memory_info().rss / MIB
        except psutil.Error:  # a worker ended between the listing and the reading
            continue
    return cpu, rss


def gpu_sample(device) -> dict:
    """GPU figures for a CUDA device; {} for anything else or when torch cannot say."""
    if device is None or not str(getattr(device, "type", device)).startswith("cuda"):
        return {}
    try:
        import torch

        if not torch.cuda.is_available():
            return {}
        index = torch.device(device).index
        index = torch.cuda.current_device() if index is None else index
        free, total = torch.cuda.mem_get_info(index)
        out = {"gpu_memory_used_mb": (total - free) / MIB, "gpu_memory_total_mb": total / MIB,
               "gpu_allocated_mb": torch.cuda.memory_allocated(index) / MIB,
               "gpu_reserved_mb": torch.cuda.memory_reserved(index) / MIB}
    except Exception:  # a driver error must not stop a run: the figures are a convenience
        return {}
    try:
        out["gpu_util_percent"] = float(torch.cuda.utilization(index))  # NVML; raises without it
    except Exception:
        pass
    return out
