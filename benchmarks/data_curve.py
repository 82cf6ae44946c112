"""Does the data-size curve predict? Train shapes at 10-50 % and at 100 % of the training split
(core.datacurve.runner: one run folder per fraction, each trained for about the full run's optimizer steps, so
a 10 % subset runs about 10x the epochs: core.datacurve.budget), fit the app's curve (core.datacurve.fit: the power
law or a logistic from chance, whichever fits better) on the 10-50 % points only and compare its prediction for
100 % with the measured 100 % run; the power law alone is printed beside it for comparison.

    .venv/bin/python benchmarks/data_curve.py [--count 3000] [--size 32] [--epochs 8] [--model cnn]

Target (issue 21): within 3 points on shapes. Last line: JSON.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # benchmarks/inspect.py shadows inspect
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from core.data import DataSpec  # noqa: E402
from core.data.shapes import SHAPE_CLASSES, make_shapes  # noqa: E402
from core.datacurve.fit import fit_curve  # noqa: E402
from core.datacurve.runner import run_data_curve  # noqa: E402
from core.training.config import TrainConfig  # noqa: E402
from core.training.session import RunSettings  # noqa: E402

FRACTIONS = (0.1, 0.2, 0.3, 0.5, 1.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--model", default="cnn")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="layerscope-curve-"))
    try:
        images, labels = make_shapes(args.count, image_size=args.size, seed=0)
        for i, (image, label) in enumerate(zip(images, labels)):
            folder = work / "shapes" / SHAPE_CLASSES[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i:05d}.png")
        settings = RunSettings(data=DataSpec(name=str(work / "shapes"), image_size=args.size),
                               model_name=args.model, train=TrainConfig(epochs=args.epochs))
        result = run_data_curve(settings, work / "curve", FRACTIONS)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    points = result.points
    small = [q for q in points if q.fraction <= 0.5]
    full = points[-1]
    fit = fit_curve([q.per_class for q in small], [q.accuracy for q in small], [q.val_images for q in small],
                    chance=1 / len(SHAPE_CLASSES))
    predicted = float(fit.at(full.per_class)) if fit is not None else float("nan")
    print(f"{'fraction':>8} {'images':>7} {'per class':>9} {'epochs':>7} {'steps':>6} {'accuracy':>9}")
    for q in points:
        print(f"{q.fraction:>8.0%} {q.train_images:>7} {q.per_class:>9.1f} {q.epochs:>7} {q.steps:>6} "
              f"{q.accuracy:>9.1%}")
    error = 100 * abs(predicted - full.accuracy)
    print(f"fit on 10-50 %: predicts {predicted:.1%} at 100 %, measured {full.accuracy:.1%} ({error:.1f} points off)")
    power = fit_curve([q.per_class for q in small], [q.accuracy for q in small])  # the power law alone
    power_predicted = float(power.at(full.per_class)) if power is not None else float("nan")
    power_error = 100 * abs(power_predicted - full.accuracy)
    print(f"the fit's form: {fit.form if fit else None}; (comparison) the power law alone predicts "
          f"{power_predicted:.1%} ({power_error:.1f} points off)")
    print(json.dumps({"points": [{"fraction": q.fraction, "per_class": round(q.per_class, 2), "epochs": q.epochs,
                                  "steps": q.steps, "accuracy": round(q.accuracy, 4)} for q in points],
                      "predicted_100": round(predicted, 4), "measured_100": round(full.accuracy, 4),
                      "error_points": round(error, 2), "target_points": 3.0, "met": bool(error <= 3.0),
                      "form": fit.form if fit else None, "power_law_predicted_100": round(power_predicted, 4),
                      "power_law_error_points": round(power_error, 2),
                      "full_curve_sentence": result.fit.sentence() if result.fit else None}))


if __name__ == "__main__":
    main()
