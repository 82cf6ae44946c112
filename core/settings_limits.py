"""A run's settings as plain values (a `train --settings` file, a checkpoint's stored config on resume) held to
exactly the catalogue's limits, the ones the CLI's options and the Train form go through.

A settings file or a checkpoint may come from elsewhere: `heartbeat_s: 1e-9` wrote ten thousand records in six
seconds, `num_workers: 500` started 500 processes, an image size of a million reached the allocator, a string
where a number belongs ended as "unexpected error". `run_settings_problems(values)` names every such value by its
place ("train.num_workers: Loader workers: 500 is outside 0..64"); an empty list means the values are usable.
The training, data and augmentation parts are the catalogue's one schema (TRAIN_SETTINGS, DATA_SETTINGS,
AUGMENT_SETTINGS); the model's options and the data's normalisation, which have no form field of their own, are
checked here against the same catalogue. Torch-free (core.catalog only): the CLI checks a file before the
engine loads, and core.training.session checks a checkpoint's stored settings with it.
"""
from __future__ import annotations

import math
from typing import Any

from core import catalog
from core.catalog import FlagSetting, SettingError

_MODEL_OPTIONS = {  # a model's factory options that have limits in the catalogue, by family
    "mlp": (catalog.ACTIVATION, catalog.MLP_DROPOUT),
    "cnn": (catalog.CNN_BLOCKS, catalog.CNN_CHANNELS, catalog.CNN_BATCH_NORM, catalog.CNN_DROPOUT, catalog.ACTIVATION),
    "torchvision": (catalog.FREEZE_BACKBONE, FlagSetting("pretrained", "Pretrained weights", False)),
}


def _named(where: str, problems: list[SettingError]) -> list[str]:
    return [f"{where}.{p.key}: {p}" if getattr(p, "key", None) else f"{where}: {p}" for p in problems]


def _part(values: dict, name: str, problems: list[str]) -> dict:
    part = values.get(name)
    if part is None:
        return {}
    if not isinstance(part, dict):
        problems.append(f"{name}: {str(part)[:40]!r} is not a JSON object")
        return {}
    return part


def run_settings_problems(values: Any) -> list[str]:
    """Every value of a RunSettings dict ({"data", "model_name", "model_options", "train"}) the catalogue refuses."""
    if not isinstance(values, dict):
        return [f"the settings are a {type(values).__name__}, not a JSON object"]
    problems: list[str] = []
    train, data = _part(values, "train", problems), _part(values, "data", problems)
    options = _part(values, "model_options", problems)
    problems += _named("train", catalog.setting_problems(train, catalog.TRAIN_SETTINGS))
    problems += _data_problems(data)
    model = values.get("model_name", catalog.DEFAULT_MODEL)
    if not isinstance(model, str) or model not in catalog.MODELS:
        problems.append(f"model_name: {str(model)[:40]!r} is not one of {', '.join(catalog.MODEL_NAMES)}")
    else:
        problems += _model_problems(catalog.MODELS[model].family, options)
    return problems


def _data_problems(data: dict) -> list[str]:
    problems = _named("data", catalog.setting_problems(data, catalog.DATA_SETTINGS))
    name = data.get("name", catalog.DEFAULT_DATASET)
    if not isinstance(name, str) or not name.strip() or "\0" in name or len(name) > 4096:
        problems.append(f"data.name: {str(name)[:40]!r} is not a dataset name or folder")
    channels = data.get("channels")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        problems.append(f"data.channels: {channels!r} is not 1 or 3")
    for key in ("mean", "std"):
        value = data.get(key)
        if value is not None and not _normalisation(value, positive=key == "std"):
            problems.append(f"data.{key}: {str(value)[:60]} is not a list of 1 to 4 finite numbers"
                            + (" above 0" if key == "std" else ""))
    augmentation = data.get("augmentation") or {}
    if not isinstance(augmentation, dict):
        problems.append(f"data.augmentation: {str(augmentation)[:40]!r} is not a JSON object")
    else:
        problems += _named("data.augmentation", catalog.setting_problems(augmentation, catalog.AUGMENT_SETTINGS))
    return problems


def _normalisation(value: Any, positive: bool) -> bool:
    return isinstance(value, list) and 1 <= len(value) <= 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 1e6
        and (v > 0 or not positive) for v in value)


def _model_problems(family: str, options: dict) -> list[str]:
    problems = _named("model_options", catalog.setting_problems(options, _MODEL_OPTIONS.get(family, ())))
    hidden = options.get("hidden")
    if family == "mlp" and hidden is not None:
        if not isinstance(hidden, list) or len(hidden) > catalog.MLP_HIDDEN_LAYERS.maximum:
            problems.append(f"model_options.hidden: not a list of at most {catalog.MLP_HIDDEN_LAYERS.maximum:g} widths")
        else:
            for i, width in enumerate(hidden):
                try:
                    catalog.MLP_WIDTH.check(width)
                except SettingError as exc:
                    problems.append(f"model_options.hidden[{i}]: {exc}")
    if "weights_path" in options and not isinstance(options["weights_path"], (str, type(None))):
        problems.append("model_options.weights_path: not a file path")
    return problems
