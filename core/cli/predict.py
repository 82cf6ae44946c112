"""`layerscope predict`: classify images with a checkpoint, one line per image as each is done."""
from __future__ import annotations

import json
import math
import sys

from core import exit_codes
from core.cli.failure import CommandError


def register(sub) -> None:
    p = sub.add_parser("predict", help="classify images with a checkpoint", description=(
        "Classify images, one output line per image, written (and flushed) as each image is done: a file "
        "that cannot be read costs its own line only."))
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--json", action="store_true", help=(
        'JSON Lines on stdout: one object per image, {"path": ..., "predictions": [{"label": ..., "prob": ...}]} '
        'or {"path": ..., "error": ...}; a prob that is not a number is null'))
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.set_defaults(handler=run)


def run(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.checkpoints.predict import Predictor

    try:
        predictor = Predictor.from_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    failed = 0
    for r in predictor.iter_classify_files(args.images, top_k=args.top_k):
        failed += r.error is not None
        print(_prediction_line(r, args.json), flush=True)  # streamed: what is written stays written
        if r.error:
            print(f"layerscope predict: could not classify {r.source}: {r.error}", file=sys.stderr, flush=True)
    return exit_codes.FAILED if failed else exit_codes.OK


def _prediction_line(r, as_json: bool) -> str:
    if as_json:
        return json.dumps(r.to_dict(), allow_nan=False)  # to_dict turns NaN into null: always valid JSON
    if r.error:
        return f"{r.source}: ERROR {r.error}"
    return f"{r.source}: " + ", ".join(
        f"{label} {prob:.1%}" if math.isfinite(prob) else f"{label} (not a number)" for label, prob in r.top)
