"""Sweeps: does TPE find better settings than random search at equal trials, and what does the sweep machinery
cost per trial?

1. A --trials-trial sweep of learning rate (log 1e-4 .. 1e-1) and batch size (16, 32, 64, 128) on shapes, once
   with Optuna's TPE and once with random search, for --seeds seeds each: best validation accuracy per sweep,
   mean over the seeds per sampler.
2. Overhead: every trial is a `layerscope train` process. Per trial, the time from Optuna's ask to its tell
   beyond the run's own training (its first to its last record) is the overhead of running it as a trial;
   the same for a bare `python -m core.cli train --settings` process with the same settings (the process
   start, imports and data set-up a user pays anyway) is subtracted to give the sweep machinery's own share.

    .venv/bin/python benchmarks/sweep.py [--trials 12] [--seeds 3] [--parallel 1] [--train-count 1000]

The last line is JSON: {"tpe_best_mean": ..., "random_best_mean": ..., "overhead_s": ..., "machinery_s": ...}.
"""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # benchmarks/inspect.py shadows inspect

import argparse
import json
import statistics
import subprocess
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.runs.layout import RunLayout  # noqa: E402
from core.runs.records import RecordError, decode  # noqa: E402
from core.tuning.sweep import SweepSpec, run_sweep  # noqa: E402
from core.tuning.sweep.space import apply_params  # noqa: E402
from core.tuning.sweep.trial import trial_environment  # noqa: E402


def base_settings(args) -> dict:
    return {"data": {"name": "shapes", "train_count": args.train_count, "image_size": args.size},
            "model_name": "cnn", "model_options": {"channels": args.channels, "blocks": 3},
            "train": {"epochs": args.epochs, "device": args.device, "schedule": "none", "evaluate_at_end": False}}


def spec_for(args, sampler: str, seed: int) -> SweepSpec:
    return SweepSpec.from_dict({
        "name": f"{sampler}-{seed}", "base": base_settings(args), "trials": args.trials, "sampler": sampler,
        "seed": seed, "metric": "val_acc",
        "params": {"lr": {"low": 1e-4, "high": 1e-1, "log": True}, "batch_size": {"choices": [16, 32, 64, 128]}}})


def training_span(run_dir: Path) -> float | None:
    """Seconds from the run's first record to its last: its own training (and validation)."""
    times = []
    try:
        lines = RunLayout(run_dir).metrics.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            times.append(decode(line).time)
        except RecordError:
            continue
    return times[-1] - times[0] if len(times) >= 2 else None


def bare_overhead(args, out: Path, repeats: int) -> float:
    """Median (process wall time - training span) of a plain `train --settings` process, same settings."""
    settings = apply_params(base_settings(args), {"lr": 1e-3, "batch_size": 32})
    path = out / "bare-settings.json"
    path.write_text(json.dumps(settings))
    extra = []
    for i in range(repeats):
        run_dir = out / f"bare-{i}"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "core.cli", "train", "--settings", str(path), "--out", str(run_dir),
                        "--quiet"], cwd=ROOT, env=trial_environment(None), check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        extra.append(wall - (training_span(run_dir) or 0.0))
    return statistics.median(extra)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--train-count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--bare-repeats", type=int, default=3)
    parser.add_argument("--out", default="", help="keep the sweeps here (default: a temporary folder)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="layerscope-sweep-bench-"))
    out.mkdir(parents=True, exist_ok=True)

    bests: dict[str, list[float]] = {"tpe": [], "random": []}
    overheads, walls = [], {}
    for seed in range(args.seeds):
        for sampler in ("tpe", "random"):
            start = time.perf_counter()
            outcome = run_sweep(spec_for(args, sampler, seed), out / f"{sampler}-{seed}", parallel=args.parallel)
            walls[(sampler, seed)] = time.perf_counter() - start
            bests[sampler].append(outcome.best["value"] if outcome.best else 0.0)
            for row in outcome.rows:
                span = training_span(Path(row["run_dir"])) if row["state"] == "complete" else None
                if span is not None and row["duration_s"] is not None:
                    overheads.append(row["duration_s"] - span)
    bare = bare_overhead(args, out, args.bare_repeats)
    per_trial = statistics.median(overheads) if overheads else float("nan")

    print(f"shapes {args.train_count} images {args.size}px, cnn, {args.epochs} epochs; {args.trials} trials of lr "
          f"x batch size, {args.parallel} at once; folder {out}")
    print(f"{'seed':>4} {'sampler':>8} {'best val acc':>13} {'sweep s':>9}")
    for seed in range(args.seeds):
        for sampler in ("tpe", "random"):
            print(f"{seed:>4} {sampler:>8} {bests[sampler][seed]:>13.3f} {walls[(sampler, seed)]:>9.1f}")
    tpe, rnd = statistics.mean(bests["tpe"]), statistics.mean(bests["random"])
    print(f"mean best: TPE {tpe:.3f}, random {rnd:.3f} ({tpe - rnd:+.3f})")
    print(f"per trial beyond its training: {per_trial:.2f} s (median of {len(overheads)}); a bare train process: "
          f"{bare:.2f} s; the sweep machinery's own share: {per_trial - bare:.2f} s")
    print(json.dumps({"tpe_best_mean": round(tpe, 4), "random_best_mean": round(rnd, 4),
                      "tpe_minus_random": round(tpe - rnd, 4), "overhead_s": round(per_trial, 3),
                      "bare_process_s": round(bare, 3), "machinery_s": round(per_trial - bare, 3),
                      "trials": args.trials, "seeds": args.seeds, "parallel": args.parallel}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
