"""Where the processing power goes: does the compute breakdown diagnose a run right, and what does measuring cost?

1. Diagnosis: the same small CNN on shapes trained from a deliberately slow loader (every image takes
   --slow-ms to "decode") and from an instant one (batches already in memory); ComputeMonitor's verdict must
   say data-bound and compute-bound.
2. Cost: the same training loop with and without measuring (StepTimer around every batch, plus the
   per-interval payload with its resource sample and verdict), alternated --rounds times in this process on
   the instant loader (the worst case: nothing else hides the measuring). Throughput ratio with / without,
   median over the rounds; the issue asks for >= 0.99. Done for a small CNN and for a tiny MLP whose steps
   take well under a millisecond (an upper bound on the relative cost).
3. The app's own runs: the Trainer (with its RunRecorder writing metrics.jsonl) with the breakdown on
   (compute_every_s 2, the default: the timer at every step, a measure and "compute" records every 2 s) and
   off (0), alternated --rounds times in this process; training images/s from the epoch's own figure.

    .venv/bin/python benchmarks/compute_breakdown.py [--device cpu|cuda] [--steps 200] [--rounds 5]

The last line is JSON: {"slow_verdict": "data-bound", "instant_verdict": "compute-bound", "cost_ratio_cnn": ...,
"trainer_cost_ratio": ...}.
"""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # benchmarks/inspect.py shadows inspect

import argparse
import os
import json
import statistics
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import Dataset  # noqa: E402

from core.compute.monitor import ComputeMonitor  # noqa: E402
from core.compute.verdict import LoaderSetup  # noqa: E402
from core.data import DataSpec, build_data, make_loader  # noqa: E402
from core.models import ModelSpec, build_model  # noqa: E402
from core.runs.directory import RunDirectory  # noqa: E402
from core.training.config import TrainConfig  # noqa: E402
from core.training.recorder import RunRecorder  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402


class SlowImages(Dataset):
    def __init__(self, base, delay_s):
        self.base, self.delay_s = base, delay_s

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        time.sleep(self.delay_s)
        return self.base[i]


def model_for(kind: str, size: int, device):
    torch.manual_seed(0)
    options = {"channels": 16, "blocks": 3} if kind == "cnn" else {"hidden": [32], "dropout": 0.0}
    return build_model(ModelSpec(kind, 5, 3, size, options)).to(device)


def train(batches, model, device, steps: int, monitor: ComputeMonitor | None) -> float:
    """Images per second over `steps` steps; with a monitor, every step is timed and payloads are taken."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    seen, done = 0, 0
    start = time.perf_counter()
    while done < steps:
        source = monitor.timer.batches(batches) if monitor is not None else batches
        for inputs, targets in source:
            inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if monitor is not None:
                monitor.timer.step_done()
                monitor.poll()
            seen += targets.shape[0]
            done += 1
            if done == steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def diagnose(data, device, slow_ms: float, batch: int, size: int, steps: int) -> dict:
    out = {}
    cases = {"slow loader": make_loader(SlowImages(data.train, slow_ms / 1000), batch, shuffle=True),
             "instant loader": list(make_loader(data.train, batch, shuffle=True))}
    for name, batches in cases.items():
        monitor = ComputeMonitor(device, LoaderSetup(num_workers=0, cpu_count=os.cpu_count() or 1,
                                                     folder_dataset=True, cache_on=False), interval_s=1e9)
        train(batches, model_for("cnn", size, device), device, steps, monitor)
        out[name] = monitor.payload()
    return out


def cost(batches, kind: str, size: int, device, steps: int, rounds: int) -> tuple[float, float, float]:
    """(median ratio with / without, median img/s without, median img/s with), alternating the order."""
    train(batches, model_for(kind, size, device), device, max(10, steps // 5), None)  # warm-up
    ratios, plain, measured = [], [], []
    for r in range(rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        speeds = {}
        for with_monitor in order:
            monitor = ComputeMonitor(device, LoaderSetup(), interval_s=2.0) if with_monitor else None
            speeds[with_monitor] = train(batches, model_for(kind, size, device), device, steps, monitor)
        ratios.append(speeds[True] / speeds[False])
        plain.append(speeds[False])
        measured.append(speeds[True])
    return statistics.median(ratios), statistics.median(plain), statistics.median(measured)


def trainer_speed(data, size: int, device, batch: int, epochs: int, every_s: float) -> float:
    """Training images/s of one recorded Trainer run (the epochs' own figures, validation left out)."""
    spec = ModelSpec("cnn", data.num_classes, 3, size, {"channels": 16, "blocks": 3})
    torch.manual_seed(0)
    config = TrainConfig(epochs=epochs, batch_size=batch, device=str(device), evaluate_at_end=False,
                         schedule="none", compute_every_s=every_s, checkpoint_every_min=0.0)
    with tempfile.TemporaryDirectory() as folder:
        recorder = RunRecorder(RunDirectory(folder), save_checkpoints=False)
        trainer = Trainer(build_model(spec), data, config, spec, [recorder])
        trainer.fit()
    return statistics.mean(m.images_per_sec for m in trainer.history)


def trainer_cost(data, size: int, device, batch: int, epochs: int, rounds: int) -> tuple[float, float, float]:
    """(median ratio on / off, median img/s off, median img/s on), alternating the order."""
    trainer_speed(data, size, device, batch, 1, 0.0)  # warm-up
    ratios, off, on = [], [], []
    for r in range(rounds):
        order = (0.0, 2.0) if r % 2 == 0 else (2.0, 0.0)
        speeds = {every: trainer_speed(data, size, device, batch, epochs, every) for every in order}
        ratios.append(speeds[2.0] / speeds[0.0])
        off.append(speeds[0.0])
        on.append(speeds[2.0])
    return statistics.median(ratios), statistics.median(off), statistics.median(on)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=200, help="steps per timed loop")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of with / without measuring")
    parser.add_argument("--diagnose-steps", type=int, default=30)
    parser.add_argument("--slow-ms", type=float, default=5.0, help="the slow loader's delay per image")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--trainer-epochs", type=int, default=2, help="epochs per Trainer run (section 3)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = build_data(DataSpec(name="shapes", train_count=max(args.batch * 20, 640), val_count=20,
                               image_size=args.size, seed=1))
    found = diagnose(data, device, args.slow_ms, args.batch, args.size, args.diagnose_steps)
    instant = list(make_loader(data.train, args.batch, shuffle=True))
    if device.type == "cuda":
        instant = [(x.to(device), y.to(device)) for x, y in instant]
    costs = {kind: cost(instant, kind, args.size, device, args.steps, args.rounds) for kind in ("cnn", "mlp")}
    trainer = trainer_cost(data, args.size, device, args.batch, args.trainer_epochs, args.rounds)

    print(f"device {device}, {args.size}x{args.size}, batch {args.batch}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'run':<16} {'steps':>5} {'data %':>7} {'compute %':>9} {'other %':>8}  verdict")
    for name, p in found.items():
        print(f"{name:<16} {p['steps']:>5} {100 * p['data_share']:>7.1f} {100 * p['compute_share']:>9.1f} "
              f"{100 * p['other_share']:>8.1f}  {p['verdict']}")
    print(f"\n{'measuring cost':<16} {'img/s without':>14} {'img/s with':>11} {'ratio':>7}  (median of {args.rounds})")
    for kind, (ratio, plain, measured) in costs.items():
        print(f"{kind:<16} {plain:>14.1f} {measured:>11.1f} {ratio:>7.3f}")
    print(f"{'Trainer (cnn)':<16} {trainer[1]:>14.1f} {trainer[2]:>11.1f} {trainer[0]:>7.3f}  "
          f"(compute_every_s 2 vs 0, {len(data.train)} images x {args.trainer_epochs} epochs, records written)")
    print(json.dumps({"slow_verdict": found["slow loader"]["verdict_kind"],
                      "instant_verdict": found["instant loader"]["verdict_kind"],
                      "slow_data_share": round(found["slow loader"]["data_share"], 3),
                      "instant_compute_share": round(found["instant loader"]["compute_share"], 3),
                      "cost_ratio_cnn": round(costs["cnn"][0], 4), "cost_ratio_mlp": round(costs["mlp"][0], 4),
                      "trainer_cost_ratio": round(trainer[0], 4),
                      "device": str(device)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
