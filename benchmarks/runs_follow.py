"""Run records: how far behind a follower is when another process writes fast (a section of benchmarks/runs.py).

A writer process appends step records to a fresh metrics.jsonl at RATE records a second, in groups every
GROUP_MS (what RunRecorder does: the trainer reports every report_interval_s), plus a heartbeat every 2 s.
This process follows the file with RunFollower.poll() every POLL_MS (a GUI timer) and measures, for every
record, the lag from its `time` stamp to the poll that returned it. Both clocks are this machine's.
Adds follow_lag_p99_s (and p50, max, records/s, garbage lines, poll cost, file size) to the results.
"""
from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from core.runs import records
from core.runs.follower import RunFollower
from core.runs.directory import RunDirectory
from core.runs.layout import RunLayout

RATE, SECONDS, GROUP_MS, POLL_MS = 2000, 10.0, 10.0, 50.0


def writer(folder: str, rate: int, seconds: float, group_ms: float, ready) -> None:
    run = RunDirectory(folder)
    run.append_records([records.make("start", epochs=1, start_epoch=0, batches_per_epoch=rate * 10,
                                     total_steps=rate * 10, heartbeat_s=2.0)])
    ready.set()
    start = time.perf_counter()
    step, next_beat = 0, 2.0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        if due > step:
            run.append_records([records.make("step", step=s, epoch=1, batch=s, loss=1.0 / s, lr=1e-3)
                                for s in range(step + 1, due + 1)])
            step = due
        if elapsed >= next_beat:
            run.append_records([records.make("heartbeat", state="running", epoch=1, step=step)])
            next_beat += 2.0
        time.sleep(group_ms / 1000)
    run.append_records([records.make("end", epoch=1, step=step)])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def section_follow(results: dict, work: Path, app, quick: bool) -> None:
    seconds = 3.0 if quick else SECONDS
    folder = work / "followed"
    folder.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=writer, args=(str(folder), RATE, seconds, GROUP_MS, ready))
    proc.start()
    ready.wait()
    follower = RunFollower(RunLayout(folder).metrics)
    lags, poll_costs, count, finished = [], [], 0, False
    while not finished:
        t0 = time.perf_counter()
        batch = follower.poll()
        now = time.time()
        poll_costs.append(time.perf_counter() - t0)
        for r in batch:
            if r.kind == "step":
                lags.append(now - r.time)
                count += 1
            finished = finished or r.kind == "end"
        if not proc.is_alive() and not batch and follower.status() != "running":
            finished = True
        time.sleep(POLL_MS / 1000)
    proc.join()
    size = RunLayout(folder).metrics.stat().st_size
    results.update({"follow_lag_p99_s": percentile(lags, 0.99), "follow_lag_p50_s": percentile(lags, 0.5),
                    "follow_lag_max_s": max(lags, default=float("nan")), "follow_records": count,
                    "follow_records_per_s": count / seconds, "follow_garbage_lines": follower.garbage_lines,
                    "follow_poll_p99_ms": percentile(poll_costs, 0.99) * 1000, "follow_file_mb": size / 1e6})
