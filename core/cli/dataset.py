"""`layerscope dataset`: the health report of an image folder (classes, splits, bad files, duplicates)."""
from __future__ import annotations

import json
from pathlib import Path

from core import exit_codes
from core.cli.failure import CommandError


def register(sub) -> None:
    d = sub.add_parser("dataset", help="check an image folder: classes, splits, bad files, duplicates")
    d.add_argument("folder")
    d.add_argument("--json", action="store_true")
    d.set_defaults(handler=run)


def run(args) -> int:
    from core.data.folder import DatasetError
    from core.data.health import scan_health

    folder = Path(args.folder)
    if not folder.is_dir():
        raise CommandError(f"{folder}: not a folder")
    try:
        report = scan_health(folder)
    except DatasetError as exc:  # empty folder, one class, no images: a message, never a traceback
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"{folder}: cannot be read ({exc.strerror or exc})") from None
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format_text())
    return exit_codes.OK
