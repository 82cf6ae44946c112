"""`layerscope train --settings FILE`: a run's whole settings as JSON (what the app writes for a job, see
core/processes/job.py), read and checked against exactly the catalogue limits the CLI's options go through.

A settings file may come from anywhere, so it is read as untrusted, through the one small-file reader (a regular
file, never a FIFO or a device; 1 MiB at most; JSON nested at most 32 deep; no number beyond float range; a JSON
object of the expected shape), and every value is checked against the catalogue (core.settings_limits, which a
checkpoint's stored settings go through on resume too); a refusal names the file and the setting
("--settings s.json: train.heartbeat_s: Heartbeat every (s): 1e-09 is outside 0.05..3600").
Torch-free: it returns the checked plain dict, which core.training.session.RunSettings.from_dict takes.
"""
from __future__ import annotations

from pathlib import Path

from core.errors import LayerscopeError
from core.io.small_files import CAPS, Obj, SmallFileError, read_json
from core.settings_limits import run_settings_problems as settings_problems

__all__ = ["SettingsFileError", "load_settings_file", "settings_problems"]

SHAPE = Obj(optional={"data": dict, "train": dict, "model_options": (dict, type(None)), "model_name": str})


class SettingsFileError(LayerscopeError, ValueError):
    """The settings file cannot be used; the message names the file and what is wrong."""


def load_settings_file(path: str | Path) -> dict:
    """The file's settings as a checked dict ({"data": ..., "model_name": ..., "model_options": ..., "train": ...})."""
    try:
        values = read_json(path, max_bytes=CAPS["settings"], schema=SHAPE)
    except SmallFileError as exc:
        raise SettingsFileError(f"--settings {exc}") from None
    problems = settings_problems(values)
    if problems:
        raise SettingsFileError(f"--settings {path}: " + "; ".join(problems))
    return values
