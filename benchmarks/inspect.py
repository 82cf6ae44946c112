"""Inspector speed: from "an image file was dropped" (path in hand) to "prediction and every layer's mosaic
ready to paint" (load_image + inspect_image over all layers), against a bare PyTorch forward pass of the
same model on a ready input tensor. CPU, median of N runs after warm-up.

    .venv/bin/python benchmarks/inspect.py [--runs 30] [--image PATH] [--threads N] [--omp-wait passive]

Prints a table, then as the LAST line a JSON object with cnn_ms, resnet18_ms, cnn_ratio, resnet18_ratio
(ratio = app time / bare forward time). Targets: cnn_ms <= 60, resnet18_ms <= 250.
"""
from __future__ import annotations

# This file is called inspect.py: run as a script, its folder comes first on sys.path and would shadow the
# standard library's `inspect` (which torch imports). Take the folder off the path before anything else.
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

# torch, numpy and the engine are imported in main(), after --omp-wait has set the environment that
# OpenMP reads once, when torch loads.

SHARED_PHOTO = Path(_ROOT).parent / "shared" / "data" / "loose" / "rocket.jpg"
TARGETS_MS = {"cnn": 60.0, "resnet18": 250.0}
CASES = (("cnn", 64), ("resnet18", 224))


def _median_ms(fn, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def _photo(path: str | None, tmp: Path) -> Path:
    import numpy as np
    from PIL import Image

    if path:
        return Path(path)
    if SHARED_PHOTO.exists():
        return SHARED_PHOTO
    # No shared photos here: a 640x480 JPEG of noise stands in (decoding cost is what matters).
    made = tmp / "photo.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(made, quality=90)
    return made


def bench_case(name: str, size: int, photo: Path, runs: int, warmup: int) -> dict:
    import torch

    from core.data.transforms import Preprocess
    from core.io.images import load_image
    from core.inspect import inspect_image
    from core.models import ModelSpec, build_model
    from core.checkpoints.predict import Predictor

    torch.manual_seed(0)
    model = build_model(ModelSpec(name, 5, 3, size)).eval()
    predictor = Predictor(model, [f"class{i}" for i in range(5)], Preprocess(image_size=size))
    ready = predictor.to_input(load_image(photo))

    def bare():
        with torch.inference_mode():
            model(ready)

    layers = []

    def app():
        result = inspect_image(predictor, load_image(photo))
        layers.append(len(result.layers))

    bare_ms = _median_ms(bare, runs, warmup)
    app_ms = _median_ms(app, runs, warmup)
    return {"model": name, "size": size, "layers": layers[-1], "bare_ms": bare_ms, "app_ms": app_ms,
            "ratio": app_ms / bare_ms}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--image", help="the photo to drop (default: shared/data/loose/rocket.jpg)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--omp-wait", choices=("default", "passive"), default="default",
                        help="passive: OpenMP threads sleep between parallel regions instead of spinning, which "
                             "leaves the cores to the numpy post-processing on a busy machine")
    args = parser.parse_args(argv)
    if args.omp_wait == "passive":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    import torch
    from PIL import Image

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        photo = _photo(args.image, Path(tmp))
        with Image.open(photo) as im:
            photo_desc = f"{photo.name} {im.size[0]}x{im.size[1]} {im.format}"
        rows = [bench_case(name, size, photo, args.runs, args.warmup) for name, size in CASES]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    omp = os.environ.get("OMP_WAIT_POLICY", "unset")
    print(f"inspector benchmark: CPU ({os.cpu_count()} cores, load average {load:.1f}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={omp}")
    print(f"photo {photo_desc}; median of {args.runs} runs after {args.warmup} warm-up")
    if load > (os.cpu_count() or 1):
        print("note: the CPU is oversubscribed: torch's thread pool waits for cores on every op and its idle "
              "threads spin; try --omp-wait passive or --threads 1 for a steadier comparison")
    print(f"{'model':<10} {'input':>7} {'layers':>6} {'bare fwd ms':>12} {'drop->ready ms':>15} {'ratio':>6} {'target ms':>10}")
    for r in rows:
        print(f"{r['model']:<10} {r['size']:>4}px {r['layers']:>6} {r['bare_ms']:>12.1f} {r['app_ms']:>15.1f} "
              f"{r['ratio']:>6.2f} {TARGETS_MS[r['model']]:>10.0f}")
    result = {}
    for r in rows:
        result[f"{r['model']}_ms"] = round(r["app_ms"], 2)
        result[f"{r['model']}_bare_ms"] = round(r["bare_ms"], 2)
        result[f"{r['model']}_ratio"] = round(r["ratio"], 3)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
