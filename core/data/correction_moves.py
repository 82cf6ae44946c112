"""Apply and Undo Apply: moving corrected files into their class folders, only when the user presses Apply.

Kept apart from core.data.corrections (which core.data.folder calls to apply corrections to a scan) because it
needs the folder scan's class names itself: one module each way would be an import cycle. Moves happen only inside
the dataset, by the one writer that never follows a link or replaces a file; every move is logged and signed
(core.data.move_log), so `undo_last_apply` reverses exactly what this app did.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.data import move_log
from core.data.corrections import (
    EXCLUDED_FOLDER,
    MOVE_LOG,
    SPLIT_NAMES,
    CorrectionsError,
    corrections_path,
    load_corrections,
)
from core.data.folder import scan_folder_splits
from core.io.atomic import move_within
from core.io.confine import ConfinementError, inside, relative_parts


def _class_target(parts: tuple[str, ...], label: str) -> tuple[str, ...]:
    class_index = 1 if len(parts) > 2 and parts[0].lower() in SPLIT_NAMES else 0
    return (*parts[:class_index], label, parts[-1])


def _numbered(wanted: tuple[str, ...], n: int) -> tuple[str, ...]:
    if n == 1:
        return wanted
    name = Path(wanted[-1])
    return (*wanted[:-1], f"{name.stem} ({n}){name.suffix}")


def _move_to_free_name(root: Path, source: tuple[str, ...], wanted: tuple[str, ...]) -> tuple[str, ...]:
    """Move to `wanted`, or to "name (2).ext", ... when taken: the writer never replaces a file."""
    for n in range(1, 10_000):
        candidate = _numbered(wanted, n)
        try:
            move_within(root, source, candidate)
            return candidate
        except FileExistsError:
            continue
    raise CorrectionsError(f"{root.joinpath(*wanted)}: no free name for it; rename files there first")


def _dataset_classes(root: Path) -> set[str]:
    return set(scan_folder_splits(root, 0.0, 0, apply_corrections=False).classes)


def _apply_one(root: Path, key: str, entry: dict, classes: set[str], seen: dict, source_file: Path) -> dict:
    """Move one corrected file; -> {"from", "to" (None: not moved, entry kept), "action", "note"?}."""
    shown = {"from": str(root / key), "to": None, "action": entry["action"]}
    parts = relative_parts(key)
    try:
        inside(root, key, source=source_file)  # no link on the way that leads out of the dataset
        st = os.stat(root.joinpath(*parts), follow_symlinks=False)
    except ConfinementError as exc:
        return {**shown, "note": f"{exc}; entry kept"}  # names the corrections file and the entry
    except OSError:
        return {**shown, "note": "file not found; entry kept"}
    if (st.st_dev, st.st_ino) in seen:
        return {**shown, "note": f"the same file as {seen[st.st_dev, st.st_ino]}; entry kept"}
    seen[st.st_dev, st.st_ino] = key
    if entry["action"] == "relabel" and entry["label"] not in classes:
        return {**shown, "note": f"there is no class {entry['label']!r} any more; entry kept"}
    wanted = _class_target(parts, entry["label"]) if entry["action"] == "relabel" else (EXCLUDED_FOLDER, *parts)
    try:
        target = _move_to_free_name(root, parts, wanted)
    except OSError as exc:  # a link or something else where the file would go: a named refusal
        return {**shown, "note": f"not moved: {exc.strerror or exc}: {exc.filename or ''}; entry kept"}
    move = {**shown, "to": str(root.joinpath(*target)), "logged": {"from": key, "to": "/".join(target),
                                                                    "action": entry["action"]}}
    if target != wanted:
        move["note"] = f"{wanted[-1]} already existed there; saved as {target[-1]}"
    return move


def apply_moves(root: str | Path) -> list[dict]:
    """Move relabelled files into their class folders and excluded ones into .layerscope-excluded/; log every
    move (DATASET/.layerscope-moves.jsonl, signed) and drop the applied entries. Returns the moves made."""
    corrections = load_corrections(root)
    if corrections.problem:
        raise CorrectionsError(corrections.problem)
    root = corrections.root
    try:
        move_log.user_key()  # no key to sign the log with, or a log that cannot be appended to: nothing moves
        move_log.check_writable(root)
    except move_log.MoveLogError as exc:
        raise CorrectionsError(str(exc)) from None
    classes, seen, moves = _dataset_classes(root), {}, []
    for key, entry in sorted(corrections.entries.items()):
        if entry["action"] == "confirm":
            continue
        moves.append(_apply_one(root, key, entry, classes, seen, corrections_path(root)))
        if moves[-1]["to"]:
            del corrections.entries[key]
    corrections.history = []  # undo of edits ends at an apply; the move log undoes the moves
    corrections.save()
    done = [m.pop("logged") for m in moves if "logged" in m]
    if done:
        try:
            move_log.record(root, done)
        except OSError as exc:
            raise CorrectionsError(f"{root / MOVE_LOG}: the moves were made but cannot be logged "
                                   f"({exc.strerror or exc}); Undo Apply cannot reverse them") from None
    return moves + [{"from": None, "to": None, "note": note} for note in corrections.skipped]


def undo_last_apply(root: str | Path) -> list[dict]:
    """Move the files of the last Apply this app recorded for this user back. A file whose old place is taken
    again stays (reported); log lines that do not verify are refused, each named, and never acted on."""
    root = Path(root).expanduser()
    try:
        contents = move_log.read_log(root)
    except move_log.MoveLogError as exc:
        raise CorrectionsError(str(exc)) from None
    refused = [{"from": None, "to": None, "undone": False, "note": note} for note in contents.refused]
    if not contents.batches:
        if refused:
            raise CorrectionsError("nothing this app recorded to undo: " + "; ".join(contents.refused[:3]))
        raise CorrectionsError(f"{root}: no applied corrections to undo")
    batch = contents.batches[-1]
    results = [_undo_one(root, move) for move in reversed(batch.moves)]
    try:
        move_log.drop_line(root, contents, batch.line)
    except OSError as exc:
        raise CorrectionsError(f"{root / MOVE_LOG}: the files were moved back but the log cannot be "
                               f"rewritten ({exc.strerror or exc})") from None
    return results + refused


def _undo_one(root: Path, move: dict) -> dict:
    back, here = move["from"], move["to"]  # path parts, confined when the log was read
    shown = {"from": str(root.joinpath(*back)), "to": str(root.joinpath(*here)), "action": move["action"]}
    try:
        inside(root, "/".join(here))
        inside(root, "/".join(back))
        move_within(root, here, back)
    except FileExistsError:
        return {**shown, "undone": False, "note": f"{shown['from']} exists again; left as is"}
    except FileNotFoundError:
        return {**shown, "undone": False, "note": f"{shown['to']} is gone; left as is"}
    except (OSError, ConfinementError) as exc:
        reason = exc.reason if isinstance(exc, ConfinementError) else f"{exc.strerror or exc}: {exc.filename}"
        return {**shown, "undone": False, "note": f"not moved back ({reason}); left as is"}
    return {**shown, "undone": True}
