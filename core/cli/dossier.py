"""`layerscope dossier`: the top images per channel of every conv / linear layer of a checkpoint (core.dossier)."""
from __future__ import annotations

import sys

from core import catalog, exit_codes
from core.cli.args import setting_type
from core.cli.failure import CommandError
from core.runs.layout import TOPK


def _at_least_one(text: str) -> int:
    import argparse

    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {k})")
    return k


def register(sub) -> None:
    d = sub.add_parser("dossier", help="top images per channel of every conv / linear layer: PNG grids + JSON")
    d.add_argument("--checkpoint", required=True)
    d.add_argument("--dataset", default=None, help="a folder with one sub-folder per class (default: the data "
                                                   "the checkpoint was trained on)")
    d.add_argument("--split", default="all", choices=("val", "train", "test", "all"))
    d.add_argument("--out", required=True, help=f"folder for LAYER.png, LAYER.json and {TOPK}")
    d.add_argument("--k", type=_at_least_one, default=9, help="top images kept per channel (default 9)")
    d.add_argument("--device", default="cpu", type=setting_type(catalog.DEVICE))
    d.add_argument("--batch-size", type=setting_type(catalog.BATCH_SIZE), default=128)
    d.set_defaults(handler=run)


def _show_progress(done: int, total: int, text: str) -> None:
    print(f"\r{done / max(total, 1):5.0%} {text:<40}", end="", file=sys.stderr, flush=True)


def _progress():
    """The console's core.progress.Progress: one line, rewritten."""
    from core.progress import Reporter

    return Reporter(_show_progress)


def run(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.dossier.ondemand import dossier_for_checkpoint
    from core.evaluate import EvaluationError

    try:
        run = dossier_for_checkpoint(args.checkpoint, args.dataset, args.out, split=args.split, k=args.k,
                                     device=args.device, batch_size=args.batch_size, progress=_progress())
    except (CheckpointError, EvaluationError) as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}", exit_codes.FAILED) from None
    finally:
        print(file=sys.stderr)  # end the progress line
    for layer, why in run.result.skipped.items():
        print(f"layerscope dossier: layer {layer} skipped: {why}", file=sys.stderr)
    for file, reason in run.unreadable:
        print(f"layerscope dossier: skipped unreadable {file}: {reason}", file=sys.stderr)
    print(f"{run.result.images} images, {len(run.result.layers)} layers, top {run.result.k} per channel; "
          f"wrote {len(run.written)} files to {args.out}")
    return exit_codes.FAILED if run.unreadable else exit_codes.OK
