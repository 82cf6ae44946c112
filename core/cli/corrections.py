"""The label-correction loop: `layerscope label-issues` (rank likely label errors of a folder),
`layerscope corrections` (relabel / exclude / confirm, undo, apply) and `layerscope finetune` (train a checkpoint
further on the corrected data)."""
from __future__ import annotations

import sys

from core import catalog, exit_codes
from core.cli.args import setting_type
from core.cli.failure import CommandError

CORRECTION_ACTIONS = ("list", "relabel", "exclude", "confirm", "clear", "undo", "apply", "undo-apply")


def register(sub) -> None:
    li = sub.add_parser("label-issues", help="rank likely label errors of a folder (k-fold cross-validation + cleanlab)")
    li.add_argument("--dataset", required=True, help="a folder with one sub-folder per class")
    li.add_argument("--model", default="cnn")
    li.add_argument("--folds", type=int, default=5)
    li.add_argument("--epochs", type=setting_type(catalog.EPOCHS), default=12,
                    help="training epochs per fold (6 left the shapes fold models at ~47%% accuracy and found half "
                         "the planted errors; benchmarks/label_issues.py)")
    li.add_argument("--image-size", type=setting_type(catalog.IMAGE_SIZE), default=64)
    li.add_argument("--device", default="cpu", type=setting_type(catalog.DEVICE))
    li.add_argument("--out", required=True, help="CSV: file, given_label, suggested_label, score, flagged; "
                                                 "most likely first")
    li.set_defaults(handler=label_issues)

    k = sub.add_parser("corrections", help="relabel / exclude / confirm images of a folder, undo, apply (move files)")
    k.add_argument("dataset")
    k.add_argument("action", choices=CORRECTION_ACTIONS)
    k.add_argument("file", nargs="?", help="the image (relabel, exclude, confirm, clear)")
    k.add_argument("label", nargs="?", help="relabel: the new class")
    k.set_defaults(handler=corrections)

    f = sub.add_parser("finetune", help="fine-tune a checkpoint on the (corrected) data: fresh optimizer, lr / 10")
    f.add_argument("--checkpoint", required=True)
    f.add_argument("--epochs", type=setting_type(catalog.EPOCHS), default=3)
    f.add_argument("--lr", type=setting_type(catalog.LEARNING_RATE), default=None,
                   help="default: the original run's lr / 10")
    f.add_argument("--out", required=True, help="the new run directory")
    f.set_defaults(handler=finetune)


def _show_progress(done: int, total: int, text: str) -> None:
    print(f"\r{done / max(total, 1):5.0%} {text:<40}", end="", file=sys.stderr, flush=True)


def _progress():
    """The console's core.progress.Progress: one line, rewritten."""
    from core.progress import Reporter

    return Reporter(_show_progress)


def label_issues(args) -> int:
    from core.evaluate import EvaluationError
    from core.evaluate.label_issues import (
        dataset_findings,
        find_folder_label_issues,
        list_trust,
        write_label_issues,
    )
    from core.training.errors import TrainingDiverged, TrainingError

    try:
        issues, data, probs = find_folder_label_issues(args.dataset, model_name=args.model, folds=args.folds,
                                                       epochs=args.epochs, image_size=args.image_size,
                                                       device=args.device, progress=_progress())
        write_label_issues(issues, args.out)
    except TrainingDiverged as exc:
        raise CommandError(f"diverged: {exc}", exit_codes.DIVERGED) from None
    except (EvaluationError, TrainingError) as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}", exit_codes.FAILED) from None
    finally:
        print(file=sys.stderr)  # end the progress line
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
    return exit_codes.OK


def corrections(args) -> int:
    from core.data.corrections import CorrectionsError
    from core.data.folder import DatasetError

    try:
        _correct(args)
    except (CorrectionsError, DatasetError) as exc:
        raise CommandError(str(exc)) from None
    return exit_codes.OK


def _correct(args) -> None:
    from core.data.corrections import CorrectionsError, load_corrections
    from core.data.correction_moves import apply_moves, undo_last_apply
    from core.data.folder import scan_folder_splits

    corrections = load_corrections(args.dataset)
    if args.action == "list":
        print(corrections.problem or "\n".join(f"{k}: {e['action']} {e.get('label', '')}".rstrip()
                                                for k, e in sorted(corrections.entries.items())) or "no corrections")
        for note in corrections.skipped:  # entries of the file left out (a path out of the dataset, a bad label)
            print(note, file=sys.stderr)
        return
    if corrections.problem:
        raise CorrectionsError(corrections.problem)
    if args.action in ("apply", "undo-apply"):
        moves = apply_moves(args.dataset) if args.action == "apply" else undo_last_apply(args.dataset)
        for m in moves:
            if m["from"] is None:  # an entry of the file or a line of the log that was refused
                print(f"refused: {m['note']}", file=sys.stderr)
            else:
                print(f"{m['from']} -> {m['to']}" + (f" ({m['note']})" if m.get("note") else ""))
        return
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


def finetune(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.data import DatasetError
    from core.training.errors import TrainingDiverged, TrainingError
    from core.training.finetune import prepare_finetune

    try:
        trainer = prepare_finetune(args.checkpoint, args.out, epochs=args.epochs, lr=args.lr)
        print(f"fine-tuning {args.checkpoint} for {args.epochs} epochs at lr {trainer.config.lr:g} into {args.out}",
              flush=True)
        summary = trainer.fit()
    except TrainingDiverged as exc:
        raise CommandError(f"diverged: {exc}", exit_codes.DIVERGED) from None
    except (CheckpointError, DatasetError, TrainingError) as exc:
        raise CommandError(str(exc)) from None
    for m in trainer.history:
        print(f"epoch {m.epoch}: train loss {m.train_loss:.4f} | val loss {m.val_loss:.4f} acc {m.val_acc:.3f}")
    print(f"done: best val acc {summary['best_val_acc']:.3f}; evaluation in {args.out}/eval")
    return exit_codes.OK
