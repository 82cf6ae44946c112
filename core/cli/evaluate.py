"""`layerscope evaluate` (a checkpoint on a dataset split: confusion, per-class, calibration) and
`layerscope compare-eval` (two evaluations side by side)."""
from __future__ import annotations

import json
import sys

from core import catalog, exit_codes
from core.cli.args import setting_type
from core.cli.failure import CommandError


def register(sub) -> None:
    e = sub.add_parser("evaluate", help="evaluate a checkpoint on a dataset split: confusion, per-class, calibration")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--dataset", default=None, help="a folder with one sub-folder per class (default: the data the "
                                                   "checkpoint was trained on)")
    e.add_argument("--split", default="val", choices=("val", "train", "test", "all"))
    e.add_argument("--out", required=True, help="folder for per_image.csv, confusion.csv, per_class.csv, "
                                                 "summary.json, *.png")
    e.add_argument("--device", default="cpu", type=setting_type(catalog.DEVICE))
    e.add_argument("--batch-size", type=setting_type(catalog.BATCH_SIZE), default=256)
    e.set_defaults(handler=evaluate)

    c = sub.add_parser("compare-eval", help="compare two evaluation folders: accuracy, per-class, became right / wrong")
    c.add_argument("a", metavar="EVAL_A", help="an evaluate --out folder (or a run's eval/ folder)")
    c.add_argument("b", metavar="EVAL_B")
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=compare)


def evaluate(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.evaluate import EvaluationError, save_evaluation
    from core.familiarity.evaluation import evaluate_with_familiarity

    try:
        result = evaluate_with_familiarity(args.checkpoint, args.dataset, args.split, device=args.device,
                                           batch_size=args.batch_size)
    except (CheckpointError, EvaluationError) as exc:
        raise CommandError(str(exc)) from None
    try:
        summary = save_evaluation(result, args.out)
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}", exit_codes.FAILED) from None
    for file, reason in result.unreadable:
        print(f"layerscope evaluate: skipped unreadable {file}: {reason}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}")
    ece = summary["ece"] if summary["ece"] is None else round(summary["ece"], 4)
    print(f"{summary['source']}: {summary['images']} images, top-1 {summary['top1']:.3f}, "
          f"top-5 {summary['top5']:.3f}, ECE {ece}")
    if summary["unfamiliar"] is not None:
        print(f"familiarity: {summary['unfamiliar']} of {summary['images']} images unfamiliar (score below "
              f"{summary['familiarity_threshold']:.2f}); per_image.csv has each image's score")
    print(f"wrote {args.out}: per_image.csv, confusion.csv, per_class.csv, summary.json, confusion.png, reliability.png")
    return exit_codes.FAILED if result.unreadable else exit_codes.OK


def compare(args) -> int:
    from core.evaluate import EvaluationError, load_evaluation
    from core.evaluate.compare import compare_evaluations

    try:
        comparison = compare_evaluations(load_evaluation(args.a), load_evaluation(args.b))
    except EvaluationError as exc:
        raise CommandError(str(exc)) from None
    print(json.dumps(comparison.to_dict(), indent=2) if args.json else comparison.format_text())
    return exit_codes.OK
