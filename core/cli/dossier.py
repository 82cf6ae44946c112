"""`layerscope dossier`: argparse wiring over core.dossier (top images per channel of a checkpoint)."""
from __future__ import annotations

import sys

from core.runs.layout import TOPK

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def add_parsers(sub) -> None:
    d = sub.add_parser("dossier", help="top images per channel of every conv / linear layer: PNG grids + JSON")
    d.add_argument("--checkpoint", required=True)
    d.add_argument("--dataset", default=None, help="a folder with one sub-folder per class (default: the data "
                                                   "the checkpoint was trained on)")
    d.add_argument("--split", default="all", choices=("val", "train", "test", "all"))
    d.add_argument("--out", required=True, help=f"folder for LAYER.png, LAYER.json and {TOPK}")
    d.add_argument("--k", type=int, default=9, help="top images kept per channel (default 9)")
    d.add_argument("--device", default="cpu")
    d.add_argument("--batch-size", type=int, default=128)


def cmd_dossier(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.dossier.ondemand import dossier_for_checkpoint
    from core.evaluate import EvaluationError

    if args.k < 1:
        print(f"layerscope dossier: --k must be at least 1 (got {args.k})", file=sys.stderr)
        return EXIT_USAGE

    from core.progress import Reporter

    def show(done, total, text):
        print(f"\r{done / max(total, 1):5.0%} {text:<40}", end="", file=sys.stderr, flush=True)

    try:
        run = dossier_for_checkpoint(args.checkpoint, args.dataset, args.out, split=args.split, k=args.k,
                                     device=args.device, batch_size=args.batch_size, progress=Reporter(show))
    except (CheckpointError, EvaluationError) as exc:
        print(f"\nlayerscope dossier: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"\nlayerscope dossier: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(file=sys.stderr)
    for layer, why in run.result.skipped.items():
        print(f"layerscope dossier: layer {layer} skipped: {why}", file=sys.stderr)
    for file, reason in run.unreadable:
        print(f"layerscope dossier: skipped unreadable {file}: {reason}", file=sys.stderr)
    print(f"{run.result.images} images, {len(run.result.layers)} layers, top {run.result.k} per channel; "
          f"wrote {len(run.written)} files to {args.out}")
    return EXIT_PARTIAL if run.unreadable else EXIT_OK


HANDLERS = {"dossier": cmd_dossier}
