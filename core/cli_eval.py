"""Headless evaluate / export / label-issues / compare-eval commands: argparse wiring over core modules.

core/cli.py calls add_parsers() once and merges HANDLERS, so these commands live here and the main CLI
module only needs two small lines.
"""
from __future__ import annotations

import sys

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def add_parsers(sub) -> None:
    e = sub.add_parser("evaluate", help="evaluate a checkpoint on a dataset split: confusion, per-class, calibration")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--dataset", default=None, help="a folder with one sub-folder per class (default: the data the checkpoint was trained on)")
    e.add_argument("--split", default="val", choices=("val", "train", "test", "all"))
    e.add_argument("--out", required=True, help="folder for per_image.csv, confusion.csv, per_class.csv, summary.json, *.png")
    e.add_argument("--device", default="cpu")
    e.add_argument("--batch-size", type=int, default=256)

    x = sub.add_parser("export", help="export a checkpoint to ONNX, torch.export (.pt2) or TorchScript, verified")
    x.add_argument("--checkpoint", required=True)
    x.add_argument("--format", required=True, choices=("onnx", "pt2", "torchscript"))
    x.add_argument("--out", required=True, help="the model file to write (FILE.json beside it: classes, preprocessing)")
    x.add_argument("--dataset", default=None, help="folder whose validation images verify the export (default: the training data)")


def cmd_evaluate(args) -> int:
    from core.checkpoint import CheckpointError
    from core.evaluate import EvaluationError, evaluate_checkpoint, save_evaluation

    try:
        result = evaluate_checkpoint(args.checkpoint, args.dataset, args.split, device=args.device,
                                     batch_size=args.batch_size)
        summary = save_evaluation(result, args.out)
    except (CheckpointError, EvaluationError) as exc:
        print(f"layerscope evaluate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"layerscope evaluate: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    for file, reason in result.unreadable:
        print(f"layerscope evaluate: skipped unreadable {file}: {reason}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}")
    print(f"{summary['source']}: {summary['images']} images, top-1 {summary['top1']:.3f}, "
          f"top-5 {summary['top5']:.3f}, ECE {summary['ece'] if summary['ece'] is None else round(summary['ece'], 4)}")
    print(f"wrote {args.out}: per_image.csv, confusion.csv, per_class.csv, summary.json, confusion.png, reliability.png")
    return EXIT_PARTIAL if result.unreadable else EXIT_OK


def cmd_export(args) -> int:
    from core.checkpoint import CheckpointError
    from core.export import ExportError, export_checkpoint

    try:
        report = export_checkpoint(args.checkpoint, args.format, args.out, dataset=args.dataset)
    except (CheckpointError, ExportError) as exc:
        print(f"layerscope export: FAILED: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report.format_text())
    return EXIT_OK


HANDLERS = {"evaluate": cmd_evaluate, "export": cmd_export}
