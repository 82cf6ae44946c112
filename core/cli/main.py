"""The headless `layerscope` command: the parser made from the command modules' registrations, and main().

Each command module (core/cli/train.py, predict.py, ...) registers its own subcommands, each with its handler
(`set_defaults(handler=...)`); COMMANDS is read off the parser. Importing this module imports no torch (the
command modules import it inside their handlers), so `layerscope train --help` is quick.

Exit status: core/exit_codes.py says what each code means. Failures are translated once, in _run_command: a
message on stderr ("layerscope COMMAND: ..."), never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

from core import exit_codes
from core.cli import (
    corrections,
    dataset,
    dossier,
    evaluate,
    export,
    familiarity,
    featurevis,
    inspect,
    labelling,
    lr_find,
    predict,
    runs,
    sweep,
    train,
)
from core.cli.failure import CommandError

__all__ = ["COMMANDS", "build_parser", "main"]

# In the order `layerscope --help` lists them.
COMMAND_MODULES = (train, lr_find, sweep, predict, inspect, dataset, runs, evaluate, export, corrections, dossier,
                   featurevis, labelling, familiarity)
DEBUG_ENV = "LAYERSCOPE_DEBUG"  # set to 1 to get the traceback of an unexpected error


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="layerscope", description=(
        "Train image classifiers and look inside them. With no command, opens the desktop app."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser, dict(sub.choices)


def build_parser() -> argparse.ArgumentParser:
    return _build()[0]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's own parser, by name (`subcommands()["train"]` lists the train options)."""
    return _build()[1]


COMMANDS: tuple[str, ...] = tuple(subcommands())


def _run_command(args) -> int:
    """Run one command; every failure is translated here, once: a message naming what to change, no traceback."""
    from core.io.signals import Interrupted, SignalStop

    # SIGTERM like Ctrl+C: one line and the signal's status, even during the first imports. The handlers stay
    # while the outcome is reported, so a second Ctrl+C meanwhile is ignored (core.io.signals.abort), never
    # raised anew past this function (Python would end by the default handler: status -2).
    with SignalStop():
        try:
            return args.handler(args)
        except CommandError as exc:
            print(f"layerscope {args.command}: {exc}", file=sys.stderr)
            return exc.code
        except KeyboardInterrupt as exc:
            code = exc.exit_code if isinstance(exc, Interrupted) else exit_codes.INTERRUPTED
            how = "SIGTERM" if code == exit_codes.TERMINATED else "Ctrl+C"
            print(f"layerscope {args.command}: interrupted ({how})", file=sys.stderr)
            return code
        except Exception as exc:
            from core.errors import describe_failure

            if os.environ.get(DEBUG_ENV):
                raise
            message = describe_failure(exc) or (f"unexpected error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 "
                                                "for details)")
            print(f"layerscope {args.command}: {message}", file=sys.stderr)
            return exit_codes.FAILED


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv)
    if args.command is None:
        parser.print_help()
        return exit_codes.USAGE
    return _run_command(args)
