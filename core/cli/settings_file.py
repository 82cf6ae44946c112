"""`layerscope train --settings FILE`: a run's whole settings as JSON (what the app writes for a run in its own
process, core/processes/job.py), read as an untrusted file and held to exactly the catalogue's limits.

The file goes through the one small-file reader (a regular file, never a FIFO; 1 MiB at most; JSON nested at
most 32 deep; no number beyond float range), then every value through core.settings_limits, the limits the
CLI's options and the Train form use. A refusal names the file and the setting:
"--settings s.json: train.heartbeat_s: Heartbeat (s): 1e-09 is outside 0.05..3600".
"""
from __future__ import annotations

from pathlib import Path

from core.errors import LayerscopeError
from core.io.small_files import CAPS, Obj, SmallFileError, read_json
from core.settings_limits import run_settings_problems

SHAPE = Obj(optional={"data": dict, "train": dict, "model_options": (dict, type(None)), "model_name": str})


class SettingsFileError(LayerscopeError, ValueError):
    """The settings file cannot be used; the message names the file and what is wrong."""


def load_settings_file(path: str | Path) -> dict:
    """The file's settings as a checked dict, for core.training.session.RunSettings.from_dict."""
    try:
        values = read_json(path, max_bytes=CAPS["settings"], schema=SHAPE)
    except SmallFileError as exc:
        raise SettingsFileError(f"--settings {exc}") from None
    problems = run_settings_problems(values)
    if problems:
        raise SettingsFileError(f"--settings {path}: " + "; ".join(problems))
    return values
