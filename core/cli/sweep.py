"""`layerscope sweep SPEC [--trials N] [--parallel K] [--storage URL] [--out DIR]`: a sweep on Optuna
(core.tuning.sweep), every trial an ordinary run folder under DIR/trials/.

Ctrl+C or SIGTERM stops it: the running trials stop after their batch (saving last.pt), are marked failed and
queued again, and the same command later goes on where it stopped. With --storage postgresql://... (or mysql://)
the same command on several machines joins one study; each runs its own trials (--parallel at a time). Optuna
and torch are imported inside the handler only."""
from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from pathlib import Path

from core import exit_codes
from core.cli.failure import CommandError
from core.runs.layout import LAST, SWEEP_FILE, SWEEP_PREFIX, TRIALS
from core.runs.location import default_runs_root


def _whole(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run a sweep of training settings on Optuna: each trial a run folder",
                       epilog="SPEC is a JSON sweep definition: {\"name\": ..., \"base\": {run settings}, \"params\": "
                              "{\"lr\": {\"low\": 1e-4, \"high\": 0.1, \"log\": true}, \"batch_size\": [16, 32]}, "
                              "\"trials\": 12, \"sampler\": \"tpe\"|\"random\"|\"grid\", \"metric\": \"val_acc\", "
                              "\"pruner\": \"none\"|\"median\"}. Stopped (Ctrl+C, SIGTERM), it queues its running "
                              "trials again: the same command goes on where it stopped. Several machines share one "
                              "study with --storage postgresql://USER:PASSWORD@HOST/DB (or mysql://...).")
    p.add_argument("spec", metavar="SPEC", help="the sweep definition (a JSON file)")
    p.add_argument("--trials", type=_whole(1, 100_000), default=None,
                   help="finished trials to reach (default: the definition's)")
    p.add_argument("--parallel", type=_whole(1, 256), default=1,
                   help="trials at once on this machine, each a training process (default 1)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="the Optuna study's storage: an RDB URL several machines share (default: SQLite in the "
                        "sweep folder)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help=f"the sweep folder ({SWEEP_FILE}, {TRIALS}/NNNN/ run folders, results); default: "
                        f"{SWEEP_PREFIX}<name> under the runs root")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(handler=run)


def sweep_folder(name: str) -> Path:
    """The default folder of the sweep `name`: the same on every start, so a restarted sweep goes on."""
    return default_runs_root() / (SWEEP_PREFIX + re.sub(r"\s+", "-", name.strip()))


def run(args) -> int:
    from core.errors import Cancelled
    from core.io.signals import SignalStop
    from core.progress import Reporter
    from core.tuning.sweep import SweepSpecError, SweepStudyError, load_spec, run_sweep

    try:
        spec = load_spec(args.spec)
    except SweepSpecError as exc:
        raise CommandError(str(exc)) from None
    out = Path(args.out) if args.out else sweep_folder(spec.name)
    print(f"sweep {spec.name!r}: {out} ({args.parallel} at a time)", flush=True)
    stop = threading.Event()
    signals = SignalStop(on_first=_say_stopping)
    signals.attach(stop.set)
    report = None if args.quiet else _show_progress
    try:
        with signals:
            outcome = run_sweep(spec, out, args.trials, parallel=args.parallel, storage=args.storage,
                                progress=Reporter(report, stop.is_set))
    except Cancelled:
        print("\nstopped; the running trials are queued again: run the same command to go on", file=sys.stderr)
        return signals.exit_code or exit_codes.INTERRUPTED
    except (SweepSpecError, SweepStudyError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    if report is not None:
        print(file=sys.stderr)
    _print_outcome(outcome, spec)
    if outcome.message:
        print(f"layerscope sweep: {outcome.message}", file=sys.stderr)
        return exit_codes.FAILED
    return exit_codes.OK


def _say_stopping(signum: int) -> None:
    os.write(2, f"\nstopping the running trials (each saves its {LAST} and is queued again; signal again to "
                "abort)...\n".encode())


def _show_progress(done: int, total: int, text: str) -> None:
    print(f"\r{done}/{total} trials finished {text:<60.60}", end="", file=sys.stderr, flush=True)


def _print_outcome(outcome, spec) -> None:
    names = list(spec.params)
    print(f"{'trial':>5} {'state':<9} {spec.metric:>9}  " + "  ".join(names))
    for row in outcome.rows:
        value = f"{row['value']:.4f}" if row["value"] is not None else "-"
        values = "  ".join(_short(row.get(n)) for n in names)
        print(f"{row['trial']:>5} {row['outcome']:<9} {value:>9}  {values}")
    if outcome.best is not None:
        best = ", ".join(f"{n}={_short(outcome.best.get(n))}" for n in names)
        print(f"best: trial {outcome.best['trial']}, {spec.metric} {outcome.best['value']:.4f} ({best}); "
              f"its run folder: {outcome.best['run_dir']}")
    for path in outcome.files.values():
        print(f"wrote {path}")


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
