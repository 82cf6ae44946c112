"""Label corrections kept beside a dataset: relabel, exclude or "label is right", with undo.

The user's images are never touched until `apply_moves` (core.data.correction_moves): corrections live in DATASET/.layerscope-corrections.json
(or, when the dataset folder is read-only, in Layerscope's data folder keyed by the dataset's path), and
scan_folder_splits applies them, so every later run, the health report and label-issue passes see the corrected
labels. A file edited by hand into garbage is reported and ignored: the original labels are used.
`apply_moves` moves relabelled files into their class folders (excluded ones into DATASET/.layerscope-excluded/),
never overwriting: a name that is taken gets a unique " (2)" name, which the log records. `undo_last_apply`
moves them back.

The file may come with a shared dataset, so nothing in it is trusted: it is read through the one small-file
reader (no link, no FIFO, a size cap, a schema), every key must be a path inside the dataset and every label
a class name (core.io.confine; a bad entry is left out and named), keys naming one file twice count once,
and files are moved only inside the dataset by the one writer that never follows a link or replaces a file.
The move log is signed per user (core.data.move_log): Undo Apply reverses only what this app recorded.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.data import move_log
from core.errors import LayerscopeError
from core.io.atomic import write_text_atomic
from core.io.confine import ConfinementError, class_name, relative_parts
from core.io.small_files import CAPS, MapOf, Obj, OneOf, SmallFileError, check, read_json

FILE_NAME = ".layerscope-corrections.json"
MOVE_LOG = move_log.LOG_NAME
EXCLUDED_FOLDER = ".layerscope-excluded"
FORMAT = "layerscope-corrections"
ACTIONS = ("relabel", "exclude", "confirm")
SPLIT_NAMES = {"train", "training", "val", "valid", "validation", "test", "testing"}


class CorrectionsError(LayerscopeError):
    """A correction cannot be made or applied; the message names the file and what to do."""


# A label is checked per entry (class_name), so one bad label costs its entry, not the whole file.
ENTRY = Obj(required={"action": OneOf(ACTIONS)}, optional={"label": None, "time": float})
SCHEMA = Obj(required={"format": OneOf((FORMAT,)), "entries": MapOf(ENTRY, max_len=10_000_000)},
             optional={"version": int, "dataset": str, "history": list})


def _fallback_path(root: Path) -> Path:
    from platformdirs import user_data_path

    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    return user_data_path("layerscope") / "corrections" / f"{key}.json"


def corrections_path(root: str | Path) -> Path:
    """Beside the dataset when the folder is writable (or the file is already there), else the fallback."""
    root = Path(root).expanduser()
    beside = root / FILE_NAME
    if os.path.lexists(beside) or os.access(root, os.W_OK):
        return beside
    return _fallback_path(root)


@dataclass
class Corrections:
    root: Path
    entries: dict[str, dict] = field(default_factory=dict)  # relative path -> {"action", "label"?, "time"}
    history: list[dict] = field(default_factory=list)  # undo stack: {"file", "before"}
    problem: str | None = None  # set when the file on disk was unreadable (then entries are empty)
    skipped: list[str] = field(default_factory=list)  # entries of the file left out, each with why

    # ---- editing -------------------------------------------------------------------------------------
    def _key(self, file: str | Path) -> str:
        """The entry key of `file`: its path relative to the dataset, '/'-separated, checked to stay inside."""
        path = Path(file)
        try:
            key = path.relative_to(self.root).as_posix()  # a sample path: root / class / name
        except ValueError:
            key = None
        if key is None and (path.is_absolute() or path.exists()):
            try:
                key = path.resolve().relative_to(self.root.resolve()).as_posix()
            except ValueError:
                raise CorrectionsError(f"{file}: not inside the dataset {self.root}") from None
        try:
            return "/".join(relative_parts(key if key is not None else path.as_posix()))
        except ConfinementError as exc:
            raise CorrectionsError(f"{file}: not a file inside the dataset {self.root} ({exc.reason})") from None

    def _set(self, file, entry: dict | None) -> None:
        key = self._key(file)
        self.history.append({"file": key, "before": self.entries.get(key)})
        if entry is None:
            self.entries.pop(key, None)
        else:
            self.entries[key] = {**entry, "time": time.time()}

    def relabel(self, file, label: str, classes: list[str]) -> None:
        try:
            class_name(label)
        except ConfinementError as exc:
            raise CorrectionsError(f"cannot relabel {file} as {label!r}: {exc.reason}") from None
        if label not in classes:
            raise CorrectionsError(f"cannot relabel {file} as '{label}': there is no such class "
                                   f"(classes: {', '.join(classes)}); add a class folder first")
        self._set(file, {"action": "relabel", "label": label})

    def exclude(self, file) -> None:
        self._set(file, {"action": "exclude"})

    def confirm(self, file) -> None:
        """'The label is right': kept, and a label-issue list can leave it out next time."""
        self._set(file, {"action": "confirm"})

    def clear(self, file) -> None:
        self._set(file, None)

    def undo(self) -> str | None:
        """Reverse the last edit; returns the file it touched, or None when there is nothing to undo."""
        if not self.history:
            return None
        last = self.history.pop()
        if last["before"] is None:
            self.entries.pop(last["file"], None)
        else:
            self.entries[last["file"]] = last["before"]
        return last["file"]

    def label_for(self, path: Path, given: str) -> str | None:
        """The label to use for `path` (None: excluded)."""
        if not self.entries:
            return given
        try:  # a sample the scanner found under the root: its key is its relative path as it stands
            key = path.relative_to(self.root).as_posix()
        except ValueError:
            key = self._key(path)
        entry = self.entries.get(key)
        if entry is None or entry["action"] == "confirm":
            return given
        return None if entry["action"] == "exclude" else entry["label"]

    # ---- file ----------------------------------------------------------------------------------------
    def save(self) -> Path:
        path = corrections_path(self.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT, "version": 1, "dataset": str(self.root.resolve()),
                   "entries": self.entries, "history": self.history[-200:]}
        try:  # never through a link: the file, its temp or the folder (core.io.atomic)
            return write_text_atomic(path, json.dumps(payload, indent=1), inside=path.parent)
        except OSError as exc:
            raise CorrectionsError(f"{path}: the corrections cannot be saved ({exc.strerror or exc})") from None


def _checked_entries(entries: dict, path: Path) -> tuple[dict, list[str]]:
    """The entries whose key is a path inside the dataset and whose label is a class name, keyed canonically
    ('cats//a.png' and './cats/a.png' are 'cats/a.png'; of two keys for one file the newer wins); and a note
    for every entry left out."""
    kept: dict[str, dict] = {}
    skipped = []
    for key, entry in entries.items():
        try:
            canonical = "/".join(relative_parts(key, source=path))
            if entry["action"] == "relabel":
                class_name(entry.get("label"), source=path)
        except ConfinementError as exc:
            skipped.append(f"{path}: entry {str(key)[:120]!r} left out: {exc.reason}")
            continue
        older = kept.get(canonical)
        if older is not None:
            skipped.append(f"{path}: entry {key!r} names the same file as another entry; the newer one is used")
            if older.get("time", 0) > entry.get("time", 0):
                continue
        kept[canonical] = entry
    return kept, skipped


def load_corrections(root: str | Path) -> Corrections:
    """The dataset's corrections; an unreadable file gives empty corrections with `problem` set (never raises).
    Entries that would leave the dataset are left out and listed in `skipped`."""
    root = Path(root).expanduser()
    path = corrections_path(root)
    try:
        payload = read_json(path, max_bytes=CAPS["corrections"], no_link=True, schema=SCHEMA)
    except SmallFileError as exc:
        if exc.kind == "missing" and not os.path.lexists(path):
            return Corrections(root)
        return Corrections(root, problem=f"{path}: the corrections file cannot be used ({exc.reason}); the original "
                                         "labels are used. Fix or delete the file to use corrections again")
    entries, skipped = _checked_entries(payload["entries"], path)
    history = [h for h in payload.get("history", []) if _valid_history(h)]
    return Corrections(root, entries, history, skipped=skipped)


def _valid_history(item) -> bool:
    """An undo step from the file: only steps that are themselves valid entries are kept."""
    if not isinstance(item, dict) or not isinstance(item.get("file"), str):
        return False
    try:
        relative_parts(item["file"])
    except ConfinementError:
        return False
    before = item.get("before")
    if before is None:
        return True
    try:
        check(before, ENTRY, FILE_NAME)
        return before["action"] != "relabel" or bool(class_name(before.get("label")))
    except (SmallFileError, ConfinementError):
        return False


def apply_to_samples(samples: list[tuple[Path, int]], classes: list[str], corrections: Corrections):
    """(path, label) samples with relabels applied and excluded files left out. A relabel to a class that is
    not in `classes` (its folder was removed since) is ignored."""
    if not corrections.entries:
        return list(samples)
    out = []
    for path, label in samples:
        new = corrections.label_for(path, classes[label])
        if new is None:
            continue
        out.append((path, classes.index(new) if new in classes else label))
    return out


def apply_to_splits(found, root: Path) -> None:
    """Apply the dataset's corrections to a FolderSplits in place (called by scan_folder_splits)."""
    corrections = load_corrections(root)
    if corrections.problem:
        found.notes.append(corrections.problem)
        return
    if not corrections.entries:
        found.notes.extend(corrections.skipped)
        return
    before = len(found.train) + len(found.val) + len(found.test)
    found.train = apply_to_samples(found.train, found.classes, corrections)
    found.val = apply_to_samples(found.val, found.classes, corrections)
    found.test = apply_to_samples(found.test, found.classes, corrections)
    relabelled = sum(1 for e in corrections.entries.values() if e["action"] == "relabel")
    excluded = before - len(found.train) - len(found.val) - len(found.test)
    found.notes.append(f"corrections applied from {corrections_path(root)}: {relabelled} relabelled, "
                       f"{excluded} excluded")
    found.notes.extend(corrections.skipped)
