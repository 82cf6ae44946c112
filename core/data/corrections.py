"""Label corrections kept beside a dataset: relabel, exclude or "label is right", with undo.

The user's images are never touched until `apply_moves`: corrections live in DATASET/.layerscope-corrections.json
(or, when the dataset folder is read-only, in Layerscope's data folder keyed by the dataset's path), and
scan_folder_splits applies them, so every later run, the health report and label-issue passes see the corrected
labels. A file edited by hand into garbage is reported and ignored: the original labels are used.
`apply_moves` moves relabelled files into their class folders (excluded ones into DATASET/.layerscope-excluded/),
never overwriting: a name that is taken gets a unique " (2)" name, which the log records. `undo_last_apply`
moves them back.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import LayerscopeError
from core.io.atomic import write_text_atomic

FILE_NAME = ".layerscope-corrections.json"
MOVE_LOG = ".layerscope-moves.jsonl"
EXCLUDED_FOLDER = ".layerscope-excluded"
FORMAT = "layerscope-corrections"
ACTIONS = ("relabel", "exclude", "confirm")
SPLIT_NAMES = {"train", "training", "val", "valid", "validation", "test", "testing"}


class CorrectionsError(LayerscopeError):
    """A correction cannot be made or applied; the message names the file and what to do."""


def _fallback_path(root: Path) -> Path:
    from platformdirs import user_data_path

    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    return user_data_path("layerscope") / "corrections" / f"{key}.json"


def corrections_path(root: str | Path) -> Path:
    """Beside the dataset when the folder is writable (or the file is already there), else the fallback."""
    root = Path(root).expanduser()
    beside = root / FILE_NAME
    if beside.exists() or os.access(root, os.W_OK):
        return beside
    return _fallback_path(root)


@dataclass
class Corrections:
    root: Path
    entries: dict[str, dict] = field(default_factory=dict)  # relative path -> {"action", "label"?, "time"}
    history: list[dict] = field(default_factory=list)  # undo stack: {"file", "before"}
    problem: str | None = None  # set when the file on disk was unreadable (then entries are empty)

    # ---- editing -------------------------------------------------------------------------------------
    def _key(self, file: str | Path) -> str:
        path = Path(file)
        try:
            return path.relative_to(self.root).as_posix()  # a sample path: root / class / name
        except ValueError:
            pass
        if path.is_absolute() or path.exists():
            try:
                return path.resolve().relative_to(self.root.resolve()).as_posix()
            except ValueError:
                raise CorrectionsError(f"{file}: not inside the dataset {self.root}") from None
        return path.as_posix()  # already relative to the dataset

    def _set(self, file, entry: dict | None) -> None:
        key = self._key(file)
        self.history.append({"file": key, "before": self.entries.get(key)})
        if entry is None:
            self.entries.pop(key, None)
        else:
            self.entries[key] = {**entry, "time": time.time()}

    def relabel(self, file, label: str, classes: list[str]) -> None:
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
        entry = self.entries.get(self._key(path)) if self.entries else None
        if entry is None or entry["action"] == "confirm":
            return given
        return None if entry["action"] == "exclude" else entry["label"]

    # ---- file ----------------------------------------------------------------------------------------
    def save(self) -> Path:
        path = corrections_path(self.root)
        payload = {"format": FORMAT, "version": 1, "dataset": str(self.root.resolve()),
                   "entries": self.entries, "history": self.history[-200:]}
        return write_text_atomic(path, json.dumps(payload, indent=1))


def _validate(payload, path: Path) -> dict:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or not isinstance(payload.get("entries"), dict):
        raise ValueError("not a Layerscope corrections file")
    for key, entry in payload["entries"].items():
        if not isinstance(entry, dict) or entry.get("action") not in ACTIONS or (
                entry["action"] == "relabel" and not isinstance(entry.get("label"), str)):
            raise ValueError(f"entry for {key!r} is not a valid correction")
    return payload


def load_corrections(root: str | Path) -> Corrections:
    """The dataset's corrections; an unreadable file gives empty corrections with `problem` set (never raises)."""
    root = Path(root).expanduser()
    path = corrections_path(root)
    if not path.exists():
        return Corrections(root)
    try:
        payload = _validate(json.loads(path.read_text(encoding="utf-8")), path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return Corrections(root, problem=f"{path}: the corrections file cannot be used ({exc}); the original "
                                         "labels are used. Fix or delete the file to use corrections again")
    history = payload.get("history") if isinstance(payload.get("history"), list) else []
    return Corrections(root, dict(payload["entries"]), list(history))


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
        return
    before = len(found.train) + len(found.val) + len(found.test)
    found.train = apply_to_samples(found.train, found.classes, corrections)
    found.val = apply_to_samples(found.val, found.classes, corrections)
    found.test = apply_to_samples(found.test, found.classes, corrections)
    relabelled = sum(1 for e in corrections.entries.values() if e["action"] == "relabel")
    excluded = before - len(found.train) - len(found.val) - len(found.test)
    found.notes.append(f"corrections applied from {corrections_path(root)}: {relabelled} relabelled, "
                       f"{excluded} excluded")


# ---- moving files (only when the user presses Apply) ---------------------------------------------------
def _unique(target: Path) -> Path:
    if not target.exists():
        return target
    for n in range(2, 10_000):
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        if not candidate.exists():
            return candidate
    raise CorrectionsError(f"{target}: no free name for it; rename files there first")


def _class_target(root: Path, rel: Path, label: str) -> Path:
    parts = rel.parts
    class_index = 1 if len(parts) > 2 and parts[0].lower() in SPLIT_NAMES else 0
    return root.joinpath(*parts[:class_index], label, rel.name)


def apply_moves(root: str | Path) -> list[dict]:
    """Move relabelled files into their class folders and excluded ones into .layerscope-excluded/; log every
    move (DATASET/.layerscope-moves.jsonl) and drop the applied entries. Returns the moves made."""
    corrections = load_corrections(root)
    if corrections.problem:
        raise CorrectionsError(corrections.problem)
    root = corrections.root
    moves = []
    for key, entry in sorted(corrections.entries.items()):
        if entry["action"] == "confirm":
            continue
        source = root / key
        if not source.is_file():
            moves.append({"from": str(source), "to": None, "note": "file not found; entry kept"})
            continue
        wanted = (_class_target(root, Path(key), entry["label"]) if entry["action"] == "relabel"
                  else root / EXCLUDED_FOLDER / key)
        target = _unique(wanted)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))  # target is free: nothing is overwritten
        move = {"from": str(source), "to": str(target), "action": entry["action"]}
        if target != wanted:
            move["note"] = f"{wanted.name} already existed there; saved as {target.name}"
        moves.append(move)
        del corrections.entries[key]
    corrections.history = []  # undo of edits ends at an apply; the move log undoes the moves
    corrections.save()
    done = [m for m in moves if m["to"]]
    if done:
        with open(root / MOVE_LOG, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"time": time.time(), "moves": done}) + "\n")
    return moves


def undo_last_apply(root: str | Path) -> list[dict]:
    """Move the files of the last Apply back. A file whose old place is taken again stays (reported)."""
    log = Path(root).expanduser() / MOVE_LOG
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    if not lines:
        raise CorrectionsError(f"{root}: no applied corrections to undo")
    batch = json.loads(lines[-1])
    results = []
    for move in reversed(batch["moves"]):
        source, target = Path(move["to"]), Path(move["from"])
        if target.exists() or not source.exists():
            results.append({**move, "undone": False, "note": f"{target} exists or {source} is gone; left as is"})
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))
        results.append({**move, "undone": True})
    log.write_text("".join(line + "\n" for line in lines[:-1]), encoding="utf-8")
    return results
