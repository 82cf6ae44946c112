"""`layerscope train --settings FILE`: a run's whole settings as JSON (what the app writes for a job, see
core/processes/job.py), read and checked against exactly the catalogue limits the CLI's options go through.

A settings file may come from anywhere, so it is read as untrusted: a regular file of bounded size, a JSON object
of the expected shape, and every value the catalogue knows checked against its limits; a refusal names the file
and the setting ("--settings s.json: train.heartbeat_s: Heartbeat every (s): 1e-09 is outside 0.05..3600").
Torch-free: it returns the checked plain dict, which core.training.session.RunSettings.from_dict takes.
"""
from __future__ import annotations

import json
from pathlib import Path

from core import catalog
from core.errors import LayerscopeError
from core.io.safefile import FileRefused, read_regular_file, regular_file_size

MAX_BYTES = 1 << 20  # what the app writes is about 1 KB


class SettingsFileError(LayerscopeError, ValueError):
    """The settings file cannot be used; the message names the file and what is wrong."""


def load_settings_file(path: str | Path) -> dict:
    """The file's settings as a checked dict ({"data": ..., "model_name": ..., "model_options": ..., "train": ...})."""
    values = _read_json(Path(path))
    problems = settings_problems(values)
    if problems:
        raise SettingsFileError(f"--settings {path}: " + "; ".join(problems))
    return values


def _read_json(path: Path) -> dict:
    try:
        size = regular_file_size(path)
        if size > MAX_BYTES:
            raise SettingsFileError(f"--settings {path}: the file is {size:,} bytes, above the {MAX_BYTES:,} limit "
                                    "for a settings file")
        values = json.loads(read_regular_file(path, MAX_BYTES).decode("utf-8"))
    except FileRefused as exc:
        raise SettingsFileError(f"--settings {path}: {exc.reason}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise SettingsFileError(f"--settings {path}: not a JSON settings file ({exc})") from None
    except RecursionError:
        raise SettingsFileError(f"--settings {path}: not a settings file (its JSON is nested too deeply)") from None
    if not isinstance(values, dict):
        raise SettingsFileError(f"--settings {path}: not a settings file (a JSON object is expected)")
    return values


def settings_problems(values: dict) -> list[str]:
    """Each value the catalogue refuses, named by its place in the file ("train.num_workers: ...")."""
    problems = []
    for part in ("data", "train", "model_options"):
        if part in values and not isinstance(values[part], dict):
            problems.append(f"{part}: {values[part]!r} is not a JSON object")
    train = values.get("train") if isinstance(values.get("train"), dict) else {}
    data = values.get("data") if isinstance(values.get("data"), dict) else {}
    augmentation = data.get("augmentation") or {}
    problems += [f"train.{p.key}: {p}" for p in catalog.setting_problems(train, catalog.TRAIN_SETTINGS)]
    problems += [f"data.{p.key}: {p}" for p in catalog.setting_problems(data, catalog.DATA_SETTINGS)]
    if not isinstance(augmentation, dict):
        problems.append(f"data.augmentation: {augmentation!r} is not a JSON object")
    else:
        problems += [f"data.augmentation.{p.key}: {p}"
                     for p in catalog.setting_problems(augmentation, catalog.AUGMENT_SETTINGS)]
    name = data.get("name", catalog.DEFAULT_DATASET)
    if not isinstance(name, str) or not name:
        problems.append(f"data.name: {name!r} is not a dataset name or folder")
    model = values.get("model_name", catalog.DEFAULT_MODEL)
    if not isinstance(model, str) or model not in catalog.MODELS:
        problems.append(f"model_name: {model!r} is not one of {', '.join(catalog.MODEL_NAMES)}")
    return problems
