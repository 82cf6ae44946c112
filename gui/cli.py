"""The `layerscope` command. With a subcommand (core.cli.main.COMMANDS: train, predict, inspect, ...) it runs the
headless engine in core and never imports Qt; otherwise it opens the desktop app with any checkpoint / images given.
`layerscope monitor DIR...` opens the app following those run folders (same as `--follow DIR`).
`layerscope --help` lists the app's own options (--checkpoint, --follow, --evaluation) and every command."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    from core.cli.main import COMMANDS

    if argv and argv[0] in ("-h", "--help"):  # the app's own options and every command, monitor included
        from gui.app import build_parser

        build_parser(with_commands=True).print_help()
        return 0
    if argv and argv[0] == "monitor":  # `layerscope monitor DIR...`: the window, following those runs
        if any(a in ("-h", "--help") for a in argv[1:]) or len(argv) < 2:
            print("usage: layerscope monitor RUN_DIR [RUN_DIR ...]\n\nOpen the window and follow these run "
                  "folders (or folders of runs) live in the Runs tab.")
            return 0 if len(argv) > 1 else 2
        argv = [part for folder in argv[1:] for part in ("--follow", folder)]
    elif argv and argv[0] in COMMANDS:
        from core.cli.main import main as cli_main
        from core.io.signals import run_main

        return run_main(lambda: cli_main(argv))  # late signals keep the command's status (core.io.signals)
    from gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
