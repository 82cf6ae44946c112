"""`layerscope label-queue` (which unlabelled photos to label first) and `layerscope data-curve` (would more
photos help?). Torch is imported inside the handlers only."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core import exit_codes
from core.cli.failure import CommandError

STRATEGIES = ("uncertainty", "diverse", "familiarity", "random")  # core.labelling.ranking.STRATEGIES


def register(sub) -> None:
    q = sub.add_parser("label-queue", help="rank a folder of unlabelled photos for labelling", description=(
        "Predict every photo of an unlabelled pool with a checkpoint and write the ones to label first: "
        "path, suggested label, probability, familiarity, score, reason."))
    q.add_argument("--checkpoint", required=True)
    q.add_argument("--pool", required=True, help="the folder of unlabelled photos (no class sub-folders)")
    q.add_argument("--strategy", choices=STRATEGIES, default="uncertainty",
                   help="uncertainty (margin between the two best classes), diverse (uncertain and unlike each "
                        "other), familiarity (least like the training images first) or random")
    q.add_argument("--n", type=int, default=100, help="how many photos to list (default 100)")
    q.add_argument("--dataset", default=None, help="the labelled dataset whose labels log says which photos are "
                   "already decided (default: the checkpoint's own folder dataset)")
    q.add_argument("--seed", type=int, default=0, help="random: the shuffle's seed")
    q.add_argument("--out", required=True, help="the queue as CSV")
    q.set_defaults(handler=run_label_queue)

    from core.cli.train import add_training_options

    c = sub.add_parser("data-curve", help="would more photos help? train on 10-100 %% of the data and fit a curve",
                       description=(
        "Train the given settings on nested, stratified subsets of the training split (one run folder per "
        "fraction under --out), each for about as many optimizer steps as the whole split takes in --epochs (a "
        "10 % subset trains about 10x the epochs, at most 20x, with the schedule over its own epochs), fit accuracy = a - b * n^-c to validation accuracy against training images per "
        "class and extrapolate it to 2x and 4x the data. Writes OUT/points.csv, OUT/curve.png (with matplotlib) "
        "and OUT/curve.json; the last line on stdout is that JSON."))
    add_training_options(c)
    c.add_argument("--fractions", default="0.1,0.25,0.5,1", help="comma list in (0, 1] (default 0.1,0.25,0.5,1)")
    c.add_argument("--settings", default=None, metavar="JSON", help="a run's whole settings as JSON (as train's)")
    c.add_argument("--parallel", type=int, default=0, metavar="N", help="fractions trained at once, each in its "
                   "own process (default 0: one per 4 cores, at least 1)")
    c.add_argument("--out", required=True, help="the folder that holds the runs and the curve")
    c.add_argument("--quiet", action="store_true", help="no progress lines")
    c.set_defaults(handler=run_data_curve)


def _checkpoint_dataset(checkpoint) -> str | None:
    spec = (checkpoint.training_state or {}).get("data_spec") or {}
    name = spec.get("name")
    return name if name and Path(name).is_dir() else None


def run_label_queue(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError, load_checkpoint
    from core.labelling.pool import PoolError
    from core.labelling.queue import build_queue, write_queue_csv

    if args.n < 1:
        raise CommandError("--n must be at least 1")
    try:
        checkpoint = load_checkpoint(args.checkpoint)
        dataset = args.dataset or _checkpoint_dataset(checkpoint)
        items, scores = build_queue(args.checkpoint, args.pool, dataset=dataset, strategy=args.strategy, n=args.n,
                                    seed=args.seed)
    except (CheckpointError, PoolError) as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:  # a strategy that needs what this checkpoint lacks (familiarity: no bank)
        raise CommandError(str(exc)) from None
    write_queue_csv(items, args.out)
    for path, reason in scores.unreadable:
        print(f"layerscope label-queue: left out {path}: {reason}", file=sys.stderr)
    print(json.dumps({"out": str(args.out), "queued": len(items), "pool": len(scores.paths),
                      "unreadable": len(scores.unreadable), "strategy": args.strategy,
                      "familiarity": scores.familiarity is not None}))
    return exit_codes.OK


def run_data_curve(args) -> int:
    from core.cli.train import run_settings
    from core.datacurve.runner import run_data_curve as run_curve
    from core.datacurve.subsets import parse_fractions
    from core.progress import Reporter

    try:
        fractions = parse_fractions(args.fractions)
    except ValueError as exc:
        raise CommandError(f"--fractions: {exc}") from None
    settings = run_settings(args)
    shown = {"message": None}

    def report(done, total, message):
        if not args.quiet and message != shown["message"]:
            shown["message"] = message
            print(f"data-curve: {message}", file=sys.stderr, flush=True)

    if args.parallel < 0:
        raise CommandError("--parallel must be 0 (automatic) or more")
    result = run_curve(settings, args.out, fractions, progress=Reporter(report), workers=args.parallel or None)
    for p in result.points:
        print(f"{p.fraction:>6.0%}  {p.train_images:>6d} images  {p.per_class:>8.1f} per class  "
              f"accuracy {p.accuracy:.1%}")
    if result.fit is not None:
        print(result.fit.sentence())
    if result.needs_photos:
        print("classes needing photos most: " + ", ".join(
            f"{r['class']} (+{r['gain_2x_points']:g} points at 2x)" for r in result.needs_photos))
    if result.plot_note:
        print(f"note: {result.plot_note}")
    print(json.dumps(result.summary()))
    return exit_codes.OK
