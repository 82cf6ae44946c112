"""The compute breakdown of a run, one payload per interval: what the trainer will write as a record.

    monitor = ComputeMonitor(device, LoaderSetup(num_workers=2, cpu_count=8), interval_s=2.0)
    for batch in monitor.timer.batches(loader):
        ...
        monitor.timer.step_done()
        payload = monitor.poll()     # None until interval_s has passed; then a flat dict of plain values

The payload holds the timer's sums and shares (data_wait_s, compute_s, sync_s, other_s, *_share), the resource
sample (cpu_percent, workers_cpu_percent, rss_mb, gpu_util_percent...) and the verdict (verdict, verdict_kind).
The interval is kept apart from the trainer's report interval (0.1 s): the resource sample costs about a
millisecond, and a verdict over a few seconds is steadier.
"""
from __future__ import annotations

from core.compute.resources import ResourceSampler
from core.compute.timer import StepTimer
from core.compute.verdict import LoaderSetup, verdict

DEFAULT_INTERVAL_S = 2.0


class ComputeMonitor:
    def __init__(self, device=None, loader: LoaderSetup | None = None, *, interval_s: float = DEFAULT_INTERVAL_S,
                 sample_resources: bool = True):
        self.timer = StepTimer(device)
        self.sampler = ResourceSampler(device=device) if sample_resources else None
        self.loader = loader
        self.interval_s = interval_s
        self._last = self.timer.clock()

    def due(self) -> bool:
        """interval_s has passed since the last measure (cheap: one clock read)."""
        return self.timer.clock() - self._last >= self.interval_s

    def poll(self) -> dict | None:
        """The payload for the interval that just ended, when interval_s has passed; else None (cheap)."""
        return self.payload() if self.due() else None

    def restart(self) -> None:
        """Start a new interval now, forgetting the time since the last measure (the trainer calls it where
        training steps begin again: after validation, a pause)."""
        self.timer.restart()
        self._last = self.timer.clock()

    def measure(self) -> dict:
        """The interval's numbers, without the verdict: the timer's sums and shares and the resource sample. A
        multi-process run gathers these from every process and words each one's verdict (with_verdict)."""
        self._last = self.timer.clock()
        timing = self.timer.take()
        resources = self.sampler.sample() if self.sampler is not None else {}
        return {**timing, **resources}

    def with_verdict(self, numbers: dict) -> dict:
        found = verdict(numbers, numbers, self.loader)
        return {**numbers, "verdict_kind": found.kind, "verdict": found.text}

    def payload(self) -> dict:
        return self.with_verdict(self.measure())
