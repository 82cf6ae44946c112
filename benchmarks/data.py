"""Image-folder input pipeline: Layerscope's vs a bare torchvision ImageFolder + DataLoader.

Same folder, same image size and batch size, same transforms (train: random resized crop + flip + normalise;
val: resize + centre crop + normalise). An epoch is what training does: one pass over train, then one over
val; images/s counts both. Epoch 1 is cold (every file decoded; for Layerscope it includes building the
bundle: the threaded reduced-scale decode, the bad-file check and the statistics), epoch 2 is warm
(Layerscope serves its in-memory cache, the baseline decodes every photo again). Only the input pipeline
is timed: no model. Each number is the median of --repeat runs. The baseline runs with 0 and with
--workers DataLoader workers; each ratio is taken against the faster of the two for that epoch.

    .venv/bin/python benchmarks/data.py [--folder ../shared/data/hymenoptera] [--size 64] [--batch 16]

The last line is JSON: {"epoch1_ratio": ..., "epoch2_ratio": ...} (Layerscope / best baseline; > 1 is faster).
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
import statistics
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torchvision  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from torchvision.transforms import v2 as T  # noqa: E402

from core.data import DataSpec, build_data, make_loader  # noqa: E402
from core.data.transforms import Augmentation  # noqa: E402

DEFAULT_FOLDER = ROOT.parent / "shared" / "data" / "hymenoptera"


def _drain(loader) -> int:
    n = 0
    for x, _ in loader:
        n += x.shape[0]
    return n


def run_layerscope(folder: Path, size: int, batch: int, aug: Augmentation) -> tuple[float, float]:
    """(epoch 1 images/s including the bundle build, epoch 2 images/s)."""
    t0 = time.perf_counter()
    bundle = build_data(DataSpec(name=str(folder), image_size=size, augmentation=aug))
    n1 = _drain(make_loader(bundle.train, batch, shuffle=True, epoch=0))
    n1 += _drain(make_loader(bundle.val, batch * 2, shuffle=False))
    t1 = time.perf_counter()
    n2 = _drain(make_loader(bundle.train, batch, shuffle=True, epoch=1))
    n2 += _drain(make_loader(bundle.val, batch * 2, shuffle=False))
    t2 = time.perf_counter()
    return n1 / (t1 - t0), n2 / (t2 - t1)


def run_baseline(folder: Path, size: int, batch: int, aug: Augmentation, workers: int) -> tuple[float, float]:
    """The textbook pipeline: ImageFolder (PIL decode of the full photo) + the same v2 transforms."""
    transform = T.Compose([
        T.RandomResizedCrop(size, scale=(aug.crop_scale_min, 1.0), antialias=True), T.RandomHorizontalFlip(),
        T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize((0.5,) * 3, (0.25,) * 3),
    ])
    val_transform = T.Compose([
        T.Resize(size, antialias=True), T.CenterCrop(size),
        T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize((0.5,) * 3, (0.25,) * 3),
    ])
    t0 = time.perf_counter()
    train = torchvision.datasets.ImageFolder(str(folder / "train"), transform=transform)
    val = torchvision.datasets.ImageFolder(str(folder / "val"), transform=val_transform)
    train_loader = DataLoader(train, batch_size=batch, shuffle=True, num_workers=workers,
                              persistent_workers=workers > 0)
    val_loader = DataLoader(val, batch_size=batch * 2, shuffle=False, num_workers=workers,
                            persistent_workers=workers > 0)
    n1 = _drain(train_loader) + _drain(val_loader)
    t1 = time.perf_counter()
    n2 = _drain(train_loader) + _drain(val_loader)
    t2 = time.perf_counter()
    return n1 / (t1 - t0), n2 / (t2 - t1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="an image folder with train/<class>/")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers for the second baseline")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    if not (args.folder / "train").is_dir() or not (args.folder / "val").is_dir():
        print(f"{args.folder}: needs train/ and val/ folders; pass --folder (train/<class>/*.jpg, val/<class>/*.jpg)")
        return 2
    torch.set_num_threads(1)  # the same for both; the loaders' own parallelism is what is compared
    aug = Augmentation(random_resized_crop=True, horizontal_flip=True)
    runs = {
        "layerscope (threaded draft decode + cache)": lambda: run_layerscope(args.folder, args.size, args.batch, aug),
        "ImageFolder + DataLoader, 0 workers": lambda: run_baseline(args.folder, args.size, args.batch, aug, 0),
        f"ImageFolder + DataLoader, {args.workers} workers":
            lambda: run_baseline(args.folder, args.size, args.batch, aug, args.workers),
    }
    results = {}
    for name, fn in runs.items():
        fn()  # warm-up: file system cache and imports, for every contender alike
        samples = [fn() for _ in range(args.repeat)]
        results[name] = (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))
    print(f"folder {args.folder}, {args.size}x{args.size}, batch {args.batch}, median of {args.repeat} runs, "
          f"torch {torch.__version__}")
    print(f"{'pipeline':<46} {'epoch 1 img/s':>14} {'epoch 2 img/s':>14}")
    for name, (e1, e2) in results.items():
        print(f"{name:<46} {e1:>14.1f} {e2:>14.1f}")
    ours = results["layerscope (threaded draft decode + cache)"]
    base = [v for k, v in results.items() if not k.startswith("layerscope")]
    best1, best2 = max(b[0] for b in base), max(b[1] for b in base)
    print(json.dumps({"epoch1_ratio": round(ours[0] / best1, 2), "epoch2_ratio": round(ours[1] / best2, 2),
                      "layerscope_img_s": [round(v, 1) for v in ours],
                      "best_baseline_img_s": [round(best1, 1), round(best2, 1)]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
