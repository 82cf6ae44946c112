"""The labels log beside the dataset: DATASET/.layerscope-labels.jsonl, append-only JSON lines.

Every decision is one line: {"id": 7, "action": "label" | "accept" | "new_class" | "skip" | "none" | "undo",
"source": the pool file, "label": ..., "copy": the copy's path relative to the dataset, "time": ...}; an undo
line names the id it undoes. Nothing is ever rewritten, so `replay` rebuilds the state at any point and the
user's history survives a crash (a line cut off by one is skipped). "accept" is a bulk acceptance of the
model's confident guesses, kept apart from a human "label".
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.io.atomic import append_lines

LOG_NAME = ".layerscope-labels.jsonl"
ACTIONS = ("label", "accept", "skip", "none", "undo")
ADDS_IMAGE = ("label", "accept")  # the actions that copy the photo into the dataset


def log_path(dataset: str | os.PathLike) -> Path:
    return Path(dataset).expanduser() / LOG_NAME


def read_log(dataset: str | os.PathLike) -> list[dict]:
    """Every whole, well-formed line of the log, in order (a damaged line is skipped: it was never done)."""
    path = log_path(dataset)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("action") in ACTIONS and isinstance(entry.get("id"), int):
            entries.append(entry)
    return entries


def append_entry(dataset: str | os.PathLike, action: str, **fields) -> dict:
    """Write one decision (its id one past the log's last) and return it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown labels-log action {action!r}")
    entries = read_log(dataset)
    entry = {"id": (entries[-1]["id"] + 1) if entries else 1, "action": action, **fields,
             "time": round(time.time(), 3)}
    append_lines(log_path(dataset), [json.dumps(entry, ensure_ascii=False)])
    return entry


@dataclass
class LabelsState:
    decisions: dict[str, dict] = field(default_factory=dict)  # pool file -> its standing decision
    done: list[dict] = field(default_factory=list)  # standing decisions, oldest first (the undo stack)

    def decided(self, source: str | os.PathLike) -> dict | None:
        return self.decisions.get(str(source))

    @property
    def labelled(self) -> int:
        return sum(d["action"] in ADDS_IMAGE for d in self.done)

    @property
    def not_for_training(self) -> set[str]:
        """The pool files marked "none of these / do not use"."""
        return {d["source"] for d in self.done if d["action"] == "none"}


def replay(entries: list[dict]) -> LabelsState:
    """The state the log describes: undo lines take back the entry they name."""
    undone = {e.get("undoes") for e in entries if e["action"] == "undo"}
    state = LabelsState()
    for entry in entries:
        if entry["action"] == "undo" or entry["id"] in undone:
            continue
        state.done.append(entry)
        state.decisions[str(entry.get("source"))] = entry
    return state


def load_state(dataset: str | os.PathLike) -> LabelsState:
    return replay(read_log(dataset))
