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
        'or {"path": ..., "error": ...}; a prob that is not a number is null. Every object also has '
        '"familiarity": {"score": ..., "familiar": ..., "threshold": ..., "nearest": [{"path": ..., "label": ..., '
        '"distance": ...}]}, or null when the checkpoint has no feature bank (layerscope familiarity makes one)'))
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.set_defaults(handler=run)


def run(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError, load_checkpoint
    from core.checkpoints.predict import Predictor
    from core.familiarity.errors import BankError
    from core.familiarity.jobs import bank_for_checkpoint
    from core.familiarity.predicting import predict_files

    try:
        checkpoint = load_checkpoint(args.checkpoint)
        predictor = Predictor.from_checkpoint(checkpoint)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    try:
        bank = bank_for_checkpoint(checkpoint, predictor.model)
    except BankError as exc:  # the predictions still stand; familiarity is unknown
        print(f"layerscope predict: familiarity unknown: {exc}", file=sys.stderr, flush=True)
        bank = None
    failed = 0
    for scored in predict_files(predictor, bank, args.images, top_k=args.top_k):
        r = scored.prediction
        failed += r.error is not None
        print(_prediction_line(scored, args.json), flush=True)  # streamed: what is written stays written
        if r.error:
            print(f"layerscope predict: could not classify {r.source}: {r.error}", file=sys.stderr, flush=True)
    return exit_codes.FAILED if failed else exit_codes.OK


def _prediction_line(scored, as_json: bool) -> str:
    from core.familiarity.predicting import UNFAMILIAR_WORD

    r = scored.prediction
    if as_json:
        return json.dumps(scored.to_dict(), allow_nan=False)  # NaN becomes null: always valid JSON
    if r.error:
        return f"{r.source}: ERROR {r.error}"
    line = f"{r.source}: " + ", ".join(
        f"{label} {prob:.1%}" if math.isfinite(prob) else f"{label} (not a number)" for label, prob in r.top)
    familiarity = scored.familiarity
    if familiarity is not None and not familiarity.familiar:
        line += f"  {UNFAMILIAR_WORD} (familiarity {familiarity.score:.2f} < {familiarity.threshold:.2f})"
    return line
