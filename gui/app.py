"""The GUI entry point: `main(argv)` shows the window at once, then loads PyTorch in the background.

    layerscope [--checkpoint CKPT] [--follow RUN_DIR ...] [IMAGE ...]

Nothing imported before the window shows pulls in torch (`python -X importtime -m gui.app` to check).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


MONITOR_HELP = "open the window following these run folders live (as --follow DIR, once each)"


def build_parser(with_commands: bool = False) -> argparse.ArgumentParser:
    """The app's own options; with_commands lists the headless commands too (`layerscope --help`)."""
    parser = argparse.ArgumentParser(
        prog="layerscope", usage="layerscope [options] [IMAGE ...]\n       layerscope COMMAND [options] (see below)",
        description="Train image classifiers and look inside them. With no COMMAND, opens the desktop app.",
        epilog=commands_epilog() if with_commands else None, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", metavar="CKPT", help="open this checkpoint (.pt) at start")
    parser.add_argument("--follow", metavar="DIR", action="append", default=[],
                        help="follow this run folder (or folder of runs) live in the Runs tab; may repeat")
    parser.add_argument("--evaluation", metavar="DIR",
                        help="show this evaluation folder (RUN/eval, or `layerscope evaluate --out DIR`) in the "
                             "Evaluate tab")
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="images to classify and inspect")
    return parser


def commands_epilog() -> str:
    """The commands, each with its one-line help, read off the headless parser (core.cli), and `monitor`."""
    from core.cli.main import build_parser as headless_parser

    rows = [("monitor RUN_DIR ...", MONITOR_HELP)]
    for action in headless_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            rows += [(choice.dest, choice.help or "") for choice in action._choices_actions]
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"  {name:<{width}}{text}" for name, text in rows]
    return ("commands (`layerscope COMMAND --help` lists each one's options; all but monitor run headless, with no "
            "window):\n"
            + "\n".join(lines))


def parse_args(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with our names, icon, style and pyqtgraph options (reuses one that exists)."""
    import pyqtgraph as pg

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "layerscope", *(argv or [])])
    app.setApplicationName("layerscope")
    app.setApplicationDisplayName("Layerscope")
    app.setOrganizationName("Layerscope")
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    icon = RESOURCES / "icon.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    qss = RESOURCES / "style.qss"
    if qss.exists():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))
    return app


def create_window(argv: list[str], runs_root=None, settings=None):
    """Parse argv, show the main window, and schedule the engine to load after the first paint.
    Returns (app, window); `main` runs the event loop on them."""
    args = parse_args(argv)
    app = make_application()
    from gui.window.main_window import MainWindow

    window = MainWindow(runs_root=runs_root, settings=settings)
    window.pending_images = [str(Path(p)) for p in args.images]
    if args.checkpoint:
        window.open_checkpoint(args.checkpoint)  # opened as soon as the engine is ready
    if args.follow:
        window.follow_folders(args.follow)
    if args.evaluation:
        from gui.window.evaluate_hookup import show_evaluation

        show_evaluation(window, args.evaluation)
    window.show()
    QTimer.singleShot(0, window.load_engine)
    return app, window


def run_event_loop(app: QApplication, window) -> int:
    """The app's event loop until the window closes; its exit status (128 + the signal after a SIGTERM or
    SIGINT, which closes the window cleanly: gui/window/termination.py)."""
    from gui.window.termination import QuitOnSignals

    # Collect garbage only on the GUI thread, from a timer. A collection started by a worker thread (a run's poll,
    # a health scan) can otherwise traverse Qt wrappers that the GUI thread is deleting at that moment
    # (PySide6 releases the GIL halfway through deleting a layout): a segfault. pyqtgraph ships this fix.
    from pyqtgraph.util.garbage_collector import GarbageCollector

    collector = GarbageCollector(interval=1.0)  # noqa: F841 (kept alive for the whole run)
    signals = QuitOnSignals(window).install()
    try:
        code = app.exec()
    finally:
        signals.restore()
    return signals.exit_code if signals.exit_code is not None else code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    app, window = create_window(argv)
    return run_event_loop(app, window)


if __name__ == "__main__":
    sys.exit(main())
