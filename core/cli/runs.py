"""Commands over run folders: `layerscope export-tensorboard` (runs' metrics.jsonl as TensorBoard files)."""
from __future__ import annotations

import sys
from pathlib import Path

from core import exit_codes
from core.cli.failure import CommandError
from core.runs import layout


def register(sub) -> None:
    x = sub.add_parser("export-tensorboard", help=f"convert runs' {layout.METRICS} to TensorBoard event files")
    x.add_argument("runs", nargs="+", metavar="RUN", help=f"run folders (or their {layout.METRICS})")
    x.add_argument("--out", default=None, help=f"folder for the event files (default: RUN/{layout.TENSORBOARD}; "
                                               "with several runs, one sub-folder per run)")
    x.set_defaults(handler=export_tensorboard)


class PercentLines:
    """A core.progress Progress that prints "RUN: 30%" to stderr at each further tenth (a long export says it
    is alive, in a terminal or a log alike)."""

    def __init__(self, name: str):
        self.name, self.shown = name, 0

    def update(self, done: int, total: int, message: str = "") -> None:
        tenth = 10 * done // total if total > 0 else 0
        if tenth > self.shown:
            self.shown = tenth
            print(f"{self.name}: {10 * tenth}%", file=sys.stderr, flush=True)

    def cancelled(self) -> bool:
        return False

    def check_cancelled(self) -> None:
        pass


def export_tensorboard(args) -> int:
    from core.training.tensorboard import TensorBoardUnavailable, export_run

    failed = 0
    for run in args.runs:
        out = args.out
        if out and len(args.runs) > 1:
            out = str(Path(out) / Path(run).resolve().name)
        try:
            log_dir, scalars, garbage = export_run(run, out, PercentLines(run))
        except TensorBoardUnavailable as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            print(f"layerscope export-tensorboard: {exc}", file=sys.stderr)
            failed += 1
            continue
        note = f" ({garbage} unreadable lines skipped)" if garbage else ""
        print(f"{run}: {scalars} scalars -> {log_dir}{note}")
    return exit_codes.FAILED if failed else exit_codes.OK
