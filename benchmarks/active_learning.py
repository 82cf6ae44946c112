"""Does the labelling queue beat random picking? A simulated labeller on shapes drawn in code.

For each seed: a dataset folder starts with --start labels per class; the rest of the drawn images are an
unlabelled pool whose true classes only the simulated labeller knows; a separate test set is fixed. A first
model is trained (`layerscope train`), then for --rounds rounds the queue (core.labelling.queue, strategy
--strategy) picks --per-round photos, the labeller labels them (core.labelling.apply: copied into the class
folders, logged), the model is fine-tuned from the last checkpoint (`train --finetune-from`) and tested. The
same with random picking at equal labels. Mean test accuracy over the seeds, per round.

    .venv/bin/python benchmarks/active_learning.py [--seeds 3] [--rounds 3] [--per-round 100] [--start 40]
        [--pool 1500] [--size 32] [--epochs 30] [--batch-size 16] [--finetune] [--finetune-epochs 4]
        [--strategy diverse]

Target (issue 21): the queue at least 3 points ahead of random after round 3; ranking 10,000 images once their
features exist in <= 2 s (measured first, on synthetic features). Last line: JSON.
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

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from core.checkpoints.predict import Predictor  # noqa: E402
from core.cli.main import main as layerscope  # noqa: E402
from core.data.shapes import SHAPE_CLASSES, make_shapes  # noqa: E402
from core.labelling.apply import label_photo  # noqa: E402
from core.labelling.queue import build_queue  # noqa: E402
from core.runs import layout  # noqa: E402


def draw(folder: Path, count: int, size: int, seed: int) -> list[tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = make_shapes(count, image_size=size, seed=seed)
    out = []
    for i, (image, label) in enumerate(zip(images, labels)):
        path = folder / f"s{seed}-{i:05d}.png"
        Image.fromarray(image).save(path)
        out.append((path, SHAPE_CLASSES[label]))
    return out


def accuracy(checkpoint: Path, test: list[tuple[Path, str]]) -> float:
    predictor = Predictor.from_checkpoint(checkpoint)
    right = sum(p.top[0][0] == truth for p, (_, truth) in
                zip(predictor.iter_classify_files([t[0] for t in test], top_k=1), test))
    return right / len(test)


def train(args, dataset: Path, out: Path, finetune_from: Path | None) -> Path:
    """The first model, and after each round either a fine-tune from the last checkpoint (the app's button) or,
    with --retrain (the default), a new model on all labels so far: the usual protocol of active-learning
    benchmarks (Beck et al. 2021), which keeps a warm start's history out of the comparison."""
    if args.retrain:
        finetune_from = None
    common = ["--epochs", str(args.finetune_epochs if finetune_from else args.epochs), "--out", str(out), "--quiet"]
    argv = (["train", "--finetune-from", str(finetune_from)] if finetune_from else
            ["train", "--dataset", str(dataset), "--image-size", str(args.size), "--model", "cnn",
             "--batch-size", str(args.batch_size), "--seed", "0"]) + common
    assert layerscope(argv) == 0, argv
    return out / layout.BEST


def one_seed(args, seed: int, strategy: str, work: Path) -> list[float]:
    root = work / f"{strategy}-{seed}"
    dataset, pool, test = root / "dataset", root / "pool", root / "test"
    drawn = draw(root / "all", args.start * len(SHAPE_CLASSES) * 2 + args.pool, args.size, seed)
    start = {c: 0 for c in SHAPE_CLASSES}
    truth = {}
    for path, label in drawn:
        if start[label] < args.start:
            (dataset / label).mkdir(parents=True, exist_ok=True)
            shutil.move(path, dataset / label / path.name)
            start[label] += 1
        else:
            pool.mkdir(parents=True, exist_ok=True)
            shutil.move(path, pool / path.name)
            truth[str(pool / path.name)] = label
    tests = draw(test, args.test, args.size, seed + 1000)
    checkpoint = train(args, dataset, root / "run-0", None)
    scores = [accuracy(checkpoint, tests)]
    for r in range(1, args.rounds + 1):
        items, _ = build_queue(checkpoint, pool, dataset=dataset, strategy=strategy, n=args.per_round, seed=seed + r)
        for item in items:
            label_photo(dataset, item.path, truth[str(item.path)])
        checkpoint = train(args, dataset, root / f"run-{r}", checkpoint)
        scores.append(accuracy(checkpoint, tests))
        print(f"  {strategy:>11} seed {seed} round {r}: {scores[-1]:.1%}", flush=True)
    return scores


def ranking_seconds(count: int = 10_000, dim: int = 512, classes: int = 10, n: int = 100) -> dict[str, float]:
    """Seconds to rank `count` pool images once their features exist (median of 3, per strategy)."""
    import statistics
    import time

    from core.labelling.ranking import STRATEGIES, rank

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(classes), count)
    features = rng.normal(size=(count, dim)).astype(np.float32)
    familiarity = rng.random(count)
    names = [str(c) for c in range(classes)]
    out = {}
    for strategy in STRATEGIES:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            rank(probabilities, features, names, strategy=strategy, n=n, familiarity=familiarity)
            times.append(time.perf_counter() - start)
        out[strategy] = round(statistics.median(times), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, default in (("--seeds", 3), ("--rounds", 3), ("--per-round", 100), ("--start", 40), ("--pool", 1500),
                          ("--test", 500), ("--size", 32), ("--epochs", 30), ("--finetune-epochs", 4),
                          ("--batch-size", 16)):
        p.add_argument(flag, type=int, default=default)
    p.add_argument("--finetune", dest="retrain", action="store_false",
                   help="fine-tune from the last checkpoint each round (the app's button) instead of a new model")
    p.add_argument("--strategy", default="diverse", choices=["uncertainty", "diverse", "familiarity"])
    args = p.parse_args()
    speed = ranking_seconds()
    print("ranking 10,000 images (512 features, 100 picked), seconds: "
          + ", ".join(f"{k} {v}" for k, v in speed.items()), flush=True)
    work = Path(tempfile.mkdtemp(prefix="layerscope-al-"))
    try:
        results = {s: np.mean([one_seed(args, seed, s, work) for seed in range(args.seeds)], axis=0)
                   for s in (args.strategy, "random")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'round':>5} {'labels':>7} {args.strategy:>11} {'random':>8} {'ahead':>7}")
    for r in range(args.rounds + 1):
        labels = args.start * len(SHAPE_CLASSES) + r * args.per_round
        queue, rand = results[args.strategy][r], results["random"][r]
        print(f"{r:>5} {labels:>7} {queue:>11.1%} {rand:>8.1%} {100 * (queue - rand):>+6.1f}")
    check = min(3, args.rounds)
    ahead = 100 * (results[args.strategy][check] - results["random"][check])
    print(json.dumps({"strategy": args.strategy, "seeds": args.seeds, "rounds": args.rounds,
                      "per_round": args.per_round, "queue": [round(float(v), 4) for v in results[args.strategy]],
                      "random": [round(float(v), 4) for v in results["random"]],
                      f"points_ahead_round_{check}": round(float(ahead), 2), "target_points": 3.0,
                      "met": bool(ahead >= 3.0), "rank_10000_s": speed, "rank_target_s": 2.0}))


if __name__ == "__main__":
    main()
