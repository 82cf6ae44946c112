"""Does the learning-rate finder's suggested band hold a good learning rate?

On shapes: a range test with the settings below, then a grid of 6 learning rates trained --epochs each with the
same settings (best validation accuracy per run). The band passes when a learning rate inside it reaches at
least 95 % of the grid's best accuracy: a grid point inside the band, or (when no grid point falls inside) the
band's geometric middle, trained the same way. Mean over --seeds seeds of the accuracies.

    .venv/bin/python benchmarks/lr_finder.py [--optimizer adam] [--train-count 2000] [--epochs 3] [--seeds 1]

The last line is JSON: {"band": [low, high], "grid": {lr: acc}, "best_acc": ..., "band_acc": ..., "ok": true}.
"""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # benchmarks/inspect.py shadows inspect

import argparse
import json
import math
import statistics
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.data import DataSpec  # noqa: E402
from core.training.config import TrainConfig  # noqa: E402
from core.training.session import RunSettings, prepare_trainer  # noqa: E402
from core.tuning.lr import STEPS, run_lr_find  # noqa: E402

GRIDS = {"adam": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], "adamw": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
         "sgd": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]}
TARGET = 0.95


def settings_for(args, seed: int, lr: float = 1e-3) -> RunSettings:
    return RunSettings(
        data=DataSpec(name="shapes", train_count=args.train_count, val_count=max(20, args.train_count // 8),
                      image_size=args.size, seed=seed),
        model_name=args.model, model_options={"channels": args.channels} if args.model == "cnn" else {},
        train=TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=lr, optimizer=args.optimizer, seed=seed,
                          device=args.device, schedule="none"))


def accuracy(args, lr: float) -> float:
    """Mean over seeds of the best validation accuracy of a run at `lr`."""
    scores = []
    for seed in range(args.seeds):
        trainer = prepare_trainer(settings_for(args, seed, lr), None)
        summary = trainer.fit()
        best = summary.get("best_val_acc")
        scores.append(best if best is not None and math.isfinite(best) else 0.0)
    return statistics.mean(scores)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--optimizer", default="adam", choices=sorted(GRIDS))
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--train-count", type=int, default=2000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=STEPS, help="range test steps (default: the finder's)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--grid", default="", help="comma-separated learning rates (default: 6 per optimizer)")
    args = parser.parse_args(argv)
    grid = [float(v) for v in args.grid.split(",")] if args.grid else GRIDS[args.optimizer]

    start = time.perf_counter()
    result, _ = run_lr_find(settings_for(args, 0), None, steps=args.steps)
    find_s = time.perf_counter() - start
    band = result.band
    scores = {lr: accuracy(args, lr) for lr in grid}
    best = max(scores.values())
    inside = {lr: acc for lr, acc in scores.items() if band.contains(lr)}
    middle = None
    if inside:
        band_acc = max(inside.values())
    else:
        middle = math.sqrt(band.low * band.high)
        band_acc = accuracy(args, middle)
    ok = band_acc >= TARGET * best

    print(f"shapes {args.train_count} images {args.size}px, {args.model}, {args.optimizer}, batch {args.batch}, "
          f"{args.epochs} epochs, {args.seeds} seed(s), torch {torch.__version__}")
    print(f"range test: {len(result.curve.lrs)} steps ({result.curve.stop_reason}) in {find_s:.1f} s; "
          f"band {band.low:.2e} .. {band.high:.2e} (steepest {band.steepest:.2e}, minimum {band.minimum:.2e}, "
          f"valley {band.valley:.2e}){' - ' + band.note if band.note else ''}")
    print(f"{'learning rate':>14} {'val acc':>8}  in band")
    for lr, acc in scores.items():
        print(f"{lr:>14.1e} {acc:>8.3f}  {'yes' if band.contains(lr) else ''}")
    if middle is not None:
        print(f"{middle:>14.1e} {band_acc:>8.3f}  band middle (no grid point inside the band)")
    print(f"best of the grid {best:.3f}; best in the band {band_acc:.3f} = {band_acc / best:.1%} of it "
          f"({'ok' if ok else 'below'} the {TARGET:.0%} target)")
    print(json.dumps({"band": [band.low, band.high], "grid": {f"{lr:g}": round(a, 4) for lr, a in scores.items()},
                      "best_acc": round(best, 4), "band_acc": round(band_acc, 4),
                      "band_middle_lr": middle, "ok": ok, "optimizer": args.optimizer}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
