"""`layerscope lr-find [training options] --out DIR`: the learning-rate range test (core.tuning.lr) on a run's
settings, the same data, model and training options as `layerscope train` (one schema, core.catalog) or its
--settings file. Writes the curve (CSV), the suggested band (JSON) and the picture (PNG) into DIR and prints the
band. Torch is imported inside the handler only."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from core import exit_codes
from core.cli.failure import CommandError
from core.cli.train import add_settings_file_option, add_training_options, run_settings
from core.runs.layout import LR_FIND_CSV, LR_FIND_JSON, LR_FIND_PNG

# The range test's own defaults (core.tuning.lr.range_test); written here so --help needs no torch.
START_LR, END_LR, STEPS = 1e-7, 10.0, 200


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a number above 0 (got {text})")
    return value


def register(sub) -> None:
    p = sub.add_parser("lr-find", help="learning-rate range test on a run's settings: the loss curve and a "
                                       "suggested band of learning rates",
                       epilog="The test trains a copy of the model for --steps steps while the learning rate grows "
                              "exponentially from --start-lr to --end-lr, stopping once the loss explodes; nothing "
                              "is saved but the three files. Read the curve, not only the band: the band is where "
                              "the loss still falls steeply, up to where it stops falling.")
    add_training_options(p)
    group = p.add_argument_group("the range test")
    group.add_argument("--out", required=True, metavar="DIR",
                       help=f"folder for {LR_FIND_CSV}, {LR_FIND_JSON} and {LR_FIND_PNG}")
    group.add_argument("--start-lr", type=_positive, default=START_LR, help=f"first learning rate (default {START_LR:g})")
    group.add_argument("--end-lr", type=_positive, default=END_LR, help=f"last learning rate (default {END_LR:g})")
    group.add_argument("--steps", type=int, default=STEPS, help=f"training steps of the test (default {STEPS})")
    group.add_argument("--quiet", action="store_true", help="no progress line")
    add_settings_file_option(group)
    p.set_defaults(handler=run)


def run(args) -> int:
    from core.data import DatasetError
    from core.models import ModelError
    from core.progress import Reporter
    from core.training.errors import TrainingError
    from core.tuning.lr import run_lr_find

    settings = run_settings(args)
    report = None if args.quiet else _show_progress
    try:
        result, files = run_lr_find(settings, Path(args.out), start_lr=args.start_lr, end_lr=args.end_lr,
                                    steps=args.steps, progress=Reporter(report))
    except (DatasetError, ModelError, TrainingError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        if report is not None:
            print(file=sys.stderr)
    _print_result(result, files)
    return exit_codes.OK


def _show_progress(done: int, total: int, text: str) -> None:
    print(f"\r{done:>4}/{total} {text:<48}", end="", file=sys.stderr, flush=True)


def _print_result(result, files: dict) -> None:
    curve, band = result.curve, result.band
    print(f"{len(curve.lrs)} steps from {curve.lrs[0]:.2g} to {curve.lrs[-1]:.2g} ({curve.stop_reason})")
    print(f"suggested learning rates: {band.low:.2g} .. {band.high:.2g} "
          f"(steepest fall {band.steepest:.2g}, lowest loss {band.minimum:.2g}, valley {band.valley:.2g})")
    if band.note:
        print(f"note: {band.note}")
    for path in files.values():
        print(f"wrote {path}")
