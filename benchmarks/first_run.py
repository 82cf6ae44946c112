"""The first-run promise: `layerscope train` with every default (the built-in shapes, the default cnn) ends
above 90 % validation accuracy, in well under a minute on a laptop CPU.

Each run is its own `python -m core.cli train` process, as a user's command is, one after another. For each:
the wall time, the CPU time the process used (user + system: on a shared machine the steadier of the two), the
final validation accuracy and the load average before it started. `--compare ARGS` adds one run with those
arguments on top of the defaults (e.g. `--compare=--image-size=64`, the default before 2026-12-06) and prints
its time relative to the defaults' mean; `--args ARGS` adds arguments to every seed's run (a candidate default).

    .venv/bin/python benchmarks/first_run.py                       # seeds 0-2, torch's own thread count
    .venv/bin/python benchmarks/first_run.py --compare=--image-size=64

The last line is JSON: {"runs": [...], "min_val_acc", "mean_wall_s", "mean_cpu_s", "compare": {...} or null}.
Targets: min_val_acc >= 0.90 on every seed; mean_wall_s well under 60 on a quiet 2-core laptop.
"""
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where a sibling (benchmarks/inspect.py) would shadow
# the standard library's module of the same name: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def final_val_acc(run_dir: Path) -> tuple[float, int]:
    from core.runs.layout import RunLayout

    records = [json.loads(line) for line in RunLayout(run_dir).metrics.read_text().splitlines() if line.strip()]
    epochs = [r for r in records if r.get("kind") == "epoch"]
    return float(epochs[-1]["val_acc"]), len(epochs)


def one_run(args: list[str], out: Path, threads: int | None) -> dict:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    else:
        env.pop("OMP_NUM_THREADS", None)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "core.cli", "train", *args, "--out", str(out), "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"train {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    acc, epochs = final_val_acc(out)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"args": " ".join(args), "val_acc": round(acc, 4), "epochs": epochs, "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "load_before": round(load, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for each run (0: unset, torch decides)")
    parser.add_argument("--compare", default="", help="extra train arguments for one comparison run (seed 0)")
    parser.add_argument("--args", default="", help="extra train arguments for every seed's run (a candidate default)")
    args = parser.parse_args()

    def split(text: str) -> list[str]:  # "--image-size=40 --epochs 2" -> ["--image-size", "40", "--epochs", "2"]
        return [part for piece in text.split() for part in piece.split("=", 1)]

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            runs.append(one_run(["--seed", str(seed), *split(args.args)], Path(tmp) / f"seed{seed}", args.threads))
            print(json.dumps(runs[-1]), flush=True)
        compare = None
        if args.compare:
            compare = one_run(["--seed", "0", *split(args.compare)], Path(tmp) / "compare", args.threads)
            print(json.dumps(compare), flush=True)
    mean_wall = sum(r["wall_s"] for r in runs) / len(runs)
    mean_cpu = sum(r["cpu_s"] for r in runs) / len(runs)
    if compare:
        compare["wall_ratio"] = round(compare["wall_s"] / mean_wall, 2)
        compare["cpu_ratio"] = round(compare["cpu_s"] / mean_cpu, 2)
    print(json.dumps({"runs": runs, "min_val_acc": min(r["val_acc"] for r in runs), "mean_wall_s": round(mean_wall, 1),
                      "mean_cpu_s": round(mean_cpu, 1), "threads": args.threads or "unset", "compare": compare}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
