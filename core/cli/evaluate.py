"""Headless evaluate / export / label-issues / compare-eval commands: argparse wiring over core modules.

core/cli/main.py calls add_parsers() once and merges HANDLERS, so these commands live here and the main CLI
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

    li = sub.add_parser("label-issues", help="rank likely label errors of a folder (k-fold cross-validation + cleanlab)")
    li.add_argument("--dataset", required=True, help="a folder with one sub-folder per class")
    li.add_argument("--model", default="cnn")
    li.add_argument("--folds", type=int, default=5)
    li.add_argument("--epochs", type=int, default=12, help="training epochs per fold (6 left the shapes fold "
                    "models at ~47%% accuracy and found half the planted errors; benchmarks/label_issues.py)")
    li.add_argument("--image-size", type=int, default=64)
    li.add_argument("--device", default="cpu")
    li.add_argument("--out", required=True, help="CSV: file, given_label, suggested_label, score, flagged; most likely first")

    c = sub.add_parser("compare-eval", help="compare two evaluation folders: accuracy, per-class, became right / wrong")
    c.add_argument("a", metavar="EVAL_A", help="an evaluate --out folder (or a run's eval/ folder)")
    c.add_argument("b", metavar="EVAL_B")
    c.add_argument("--json", action="store_true")

    f = sub.add_parser("finetune", help="fine-tune a checkpoint on the (corrected) data: fresh optimizer, lr / 10")
    f.add_argument("--checkpoint", required=True)
    f.add_argument("--epochs", type=int, default=3)
    f.add_argument("--lr", type=float, default=None, help="default: the original run's lr / 10")
    f.add_argument("--out", required=True, help="the new run directory")

    k = sub.add_parser("corrections", help="relabel / exclude / confirm images of a folder, undo, apply (move files)")
    k.add_argument("dataset")
    k.add_argument("action", choices=("list", "relabel", "exclude", "confirm", "clear", "undo", "apply", "undo-apply"))
    k.add_argument("file", nargs="?", help="the image (relabel, exclude, confirm, clear)")
    k.add_argument("label", nargs="?", help="relabel: the new class")


def cmd_evaluate(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
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
    from core.checkpoints.checkpoint import CheckpointError
    from core.evaluate.export import ExportError, export_checkpoint

    try:
        report = export_checkpoint(args.checkpoint, args.format, args.out, dataset=args.dataset)
    except (CheckpointError, ExportError) as exc:
        print(f"layerscope export: FAILED: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report.format_text())
    return EXIT_OK


def cmd_label_issues(args) -> int:
    from core.evaluate import EvaluationError
    from core.evaluate.label_issues import (
        dataset_findings,
        find_folder_label_issues,
        list_trust,
        write_label_issues,
    )
    from core.training.trainer import TrainingError

    from core.progress import Reporter

    def show(done, total, text):
        print(f"\r{done / max(total, 1):5.0%} {text:<40}", end="", file=sys.stderr, flush=True)

    try:
        issues, data, probs = find_folder_label_issues(args.dataset, model_name=args.model, folds=args.folds,
                                                   epochs=args.epochs, image_size=args.image_size,
                                                   device=args.device, progress=Reporter(show))
        write_label_issues(issues, args.out)
    except (EvaluationError, TrainingError) as exc:
        print(f"\nlayerscope label-issues: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"\nlayerscope label-issues: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(file=sys.stderr)
    flagged = sum(i.flagged for i in issues)
    print(f"{len(issues)} images ranked, {flagged} flagged as likely label errors by cleanlab; wrote {args.out}")
    print(list_trust(data.labels, probs, flagged).sentence())
    for issue in issues[:10]:
        print(f"  {issue.score:.3f}  {issue.file}: labelled {issue.given}, looks like {issue.suggested}")
    duplicates, confounds = dataset_findings(data)
    for d in duplicates[:20]:
        kind = "exact duplicate" if d.exact else f"near duplicate (distance {d.distance})"
        print(f"{kind} across classes: {d.file_a} ({d.label_a}) and {d.file_b} ({d.label_b})")
    for sentence in confounds:
        print(sentence)
    for file, reason in data.unreadable:
        print(f"layerscope label-issues: skipped unreadable {file}: {reason}", file=sys.stderr)
    return EXIT_OK


def cmd_compare_eval(args) -> int:
    import json

    from core.evaluate import EvaluationError, load_evaluation
    from core.evaluate.compare import compare_evaluations

    try:
        comparison = compare_evaluations(load_evaluation(args.a), load_evaluation(args.b))
    except EvaluationError as exc:
        print(f"layerscope compare-eval: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(comparison.to_dict(), indent=2) if args.json else comparison.format_text())
    return EXIT_OK


def cmd_finetune(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.data import DatasetError
    from core.training.finetune import prepare_finetune
    from core.training.trainer import TrainingError

    try:
        trainer = prepare_finetune(args.checkpoint, args.out, epochs=args.epochs, lr=args.lr)
        print(f"fine-tuning {args.checkpoint} for {args.epochs} epochs at lr {trainer.config.lr:g} into {args.out}",
              flush=True)
        summary = trainer.fit()
    except (CheckpointError, DatasetError, TrainingError) as exc:
        print(f"layerscope finetune: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for m in trainer.history:
        print(f"epoch {m.epoch}: train loss {m.train_loss:.4f} | val loss {m.val_loss:.4f} acc {m.val_acc:.3f}")
    print(f"done: best val acc {summary['best_val_acc']:.3f}; evaluation in {args.out}/eval")
    return EXIT_OK


def cmd_corrections(args) -> int:
    from core.data.corrections import (
        CorrectionsError,
        apply_moves,
        load_corrections,
        undo_last_apply,
    )
    from core.data.folder import DatasetError, scan_folder_splits

    try:
        corrections = load_corrections(args.dataset)
        if corrections.problem and args.action not in ("list",):
            raise CorrectionsError(corrections.problem)
        if args.action == "list":
            print(corrections.problem or "\n".join(f"{k}: {e['action']} {e.get('label', '')}".rstrip()
                                                    for k, e in sorted(corrections.entries.items())) or "no corrections")
            return EXIT_OK
        if args.action in ("apply", "undo-apply"):
            moves = apply_moves(args.dataset) if args.action == "apply" else undo_last_apply(args.dataset)
            for m in moves:
                print(f"{m['from']} -> {m['to']}" + (f" ({m['note']})" if m.get("note") else ""))
            return EXIT_OK
        if args.action == "undo":
            print(f"undone: {corrections.undo() or 'nothing to undo'}")
        elif not args.file:
            raise CorrectionsError(f"{args.action} needs the image file")
        elif args.action == "relabel":
            if not args.label:
                raise CorrectionsError("relabel needs the new class: corrections DATASET relabel FILE CLASS")
            classes = scan_folder_splits(args.dataset, 0.0, 0, apply_corrections=False).classes
            corrections.relabel(args.file, args.label, classes)
        else:
            getattr(corrections, args.action)(args.file)
        print(f"saved {corrections.save()}")
    except (CorrectionsError, DatasetError) as exc:
        print(f"layerscope corrections: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


HANDLERS = {"finetune": cmd_finetune, "corrections": cmd_corrections, "compare-eval": cmd_compare_eval, "evaluate": cmd_evaluate, "export": cmd_export, "label-issues": cmd_label_issues}
