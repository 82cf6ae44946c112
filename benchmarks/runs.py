"""Run records: how far behind a follower is when another process writes fast.

A writer process appends step records to a fresh metrics.jsonl at --rate records a second, in groups every
--group-ms (what RunRecorder does: the trainer reports every report_interval_s), plus a heartbeat every 2 s.
This process follows the file with RunFollower.poll() every --poll-ms (a GUI timer) and measures, for every
record, the lag from its `time` stamp to the poll that returned it. Both clocks are this machine's.

    .venv/bin/python benchmarks/runs.py [--rate 2000] [--seconds 10] [--poll-ms 50]

The last line is JSON: {"follow_lag_p99_s": ..., ...}.
"""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse
import json
import multiprocessing as mp
import tempfile
import time

from core import records
from core.follow import RunFollower
from core.runs import RunDirectory


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2000, help="step records a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--group-ms", type=float, default=10.0, help="the writer appends this often")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="the follower polls this often")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        ctx = mp.get_context("spawn")
        ready = ctx.Event()
        proc = ctx.Process(target=writer, args=(folder, args.rate, args.seconds, args.group_ms, ready))
        proc.start()
        ready.wait()
        follower = RunFollower(Path(folder) / "metrics.jsonl")
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
            time.sleep(args.poll_ms / 1000)
        proc.join()
        size = (Path(folder) / "metrics.jsonl").stat().st_size

    result = {"follow_lag_p99_s": round(percentile(lags, 0.99), 4), "follow_lag_p50_s": round(percentile(lags, 0.5), 4),
              "follow_lag_max_s": round(max(lags, default=float("nan")), 4), "records": count,
              "records_per_s": round(count / args.seconds, 1), "garbage_lines": follower.garbage_lines,
              "poll_p99_ms": round(percentile(poll_costs, 0.99) * 1000, 2), "file_mb": round(size / 1e6, 2)}
    print(f"writer {args.rate} step records/s for {args.seconds:g} s in groups every {args.group_ms:g} ms; "
          f"follower polls every {args.poll_ms:g} ms")
    print(f"{'measure':<28} {'value':>12}")
    for key, value in result.items():
        print(f"{key:<28} {value:>12}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
