"""What the user does to a run: rename it, note it, delete it (to a trash that can be undone), and take its
settings to resume it or train again.

The display name and the note live in the run's run_meta.json, so the folder path (which checkpoints,
scripts and TensorBoard point at) never changes. Delete moves the folder into `<runs root>/.trash/` rather
than the system trash (send2trash): send2trash has no way to put a folder back, and Undo must.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import LayerscopeError
from core.io.atomic import write_text_atomic
from core.io.small_files import SmallFileError
from core.runs.index import read_json_object
from core.runs.layout import CONFIG, RunLayout, trash_dir


class RunActionError(LayerscopeError):
    """An action on a run could not be done; the message says why and what to do."""


def read_meta(run: str | os.PathLike) -> dict:
    try:
        return read_json_object(RunLayout(run).meta)
    except (OSError, ValueError):  # SmallFileError: missing, a FIFO, a link to a device, not JSON...
        return {}  # a damaged meta file is replaced by the next rename / note (a planted link is refused then)


def _write_meta(run: Path, **changes) -> None:
    if not run.is_dir():
        raise RunActionError(f"{run} no longer exists (deleted or renamed?)")
    meta = {**read_meta(run), **changes}
    path = RunLayout(run).meta
    try:
        write_text_atomic(path, json.dumps(meta, indent=2), inside=run)  # an exclusive random temp, never a link
    except OSError as exc:
        raise RunActionError(f"cannot write {path}: {exc.strerror or exc}") from None


def rename_run(run: str | os.PathLike, name: str) -> None:
    """Set the name shown in the list ("" goes back to the folder name); the folder itself stays."""
    _write_meta(Path(run), name=name.strip())


def set_note(run: str | os.PathLike, note: str) -> None:
    _write_meta(Path(run), note=note)


@dataclass(frozen=True)
class TrashedRun:
    original: Path
    trashed: Path


def trash_run(run: str | os.PathLike, runs_root: str | os.PathLike) -> TrashedRun:
    """Move a run folder into `<runs_root>/.trash/`; `restore_run` undoes it."""
    run = Path(run)
    if not run.is_dir():
        raise RunActionError(f"{run} no longer exists (deleted or renamed?)")
    trash = trash_dir(runs_root)
    target = trash / f"{run.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 2
    while target.exists():
        target = trash / f"{run.name}-{time.strftime('%Y%m%d-%H%M%S')}-{n}"
        n += 1
    try:
        trash.mkdir(parents=True, exist_ok=True)
        shutil.move(str(run), str(target))  # a rename on one disk; a copy for an added folder elsewhere
    except OSError as exc:
        raise RunActionError(f"cannot move {run} to the trash: {exc.strerror or exc}") from None
    return TrashedRun(run, target)


def restore_run(trashed: TrashedRun) -> Path:
    if trashed.original.exists():
        raise RunActionError(f"cannot undo: {trashed.original} exists again; the deleted run is in "
                             f"{trashed.trashed}")
    try:
        shutil.move(str(trashed.trashed), str(trashed.original))
    except OSError as exc:
        raise RunActionError(f"cannot restore {trashed.original}: {exc.strerror or exc}") from None
    return trashed.original


def run_settings(run: str | os.PathLike) -> dict:
    """The run's config.json (what "train again with these settings" fills the form with)."""
    path = RunLayout(run).config
    try:
        return read_json_object(path)
    except SmallFileError as exc:
        if exc.kind == "missing":
            raise RunActionError(f"{run} has no {CONFIG}: its settings are unknown") from None
        raise RunActionError(str(exc)) from None
    except OSError as exc:
        raise RunActionError(f"{path}: {exc.strerror or exc}") from None


def run_checkpoint(run: str | os.PathLike, which: str) -> Path:
    """best.pt or last.pt of a run; RunActionError when it is not there."""
    path = RunLayout(run).checkpoint(which)
    if not path.is_file():
        raise RunActionError(f"{run} has no {path.name} yet (no epoch finished, or it was deleted)")
    return path


def resume_request(run: str | os.PathLike) -> tuple[dict, Path]:
    """(settings, last.pt) for resuming a stopped run."""
    return run_settings(run), run_checkpoint(run, "last")
