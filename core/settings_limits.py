"""A run's settings as plain values (a `train --settings` file, a checkpoint's stored config on resume) held to
exactly the catalogue's limits, the ones the CLI's options and the Train form go through.

A settings file or a checkpoint may come from elsewhere: `heartbeat_s: 1e-9` wrote ten thousand records in six
seconds, `num_workers: 500` started 500 processes, an image size of a million reached the allocator, a string
where a number belongs ended as "unexpected error". `run_settings_problems(values)` names every such value by its
place ("train.num_workers: Loader workers: 500 is outside 0..64"); an empty list means the values are usable.
Torch-free (core.catalog only), so the CLI checks a file before the engine loads.
"""
from __future__ import annotations

import math
from typing import Any

from core import catalog
from core.catalog import ChoiceSetting, FlagSetting, NumberSetting, SettingError

_TRAIN = {s.key: s for s in (*catalog.TRAIN_SETTINGS, catalog.LAYER_HEALTH_EVERY, catalog.DOSSIER_TOPK)}
_TRAIN["report_interval_s"] = NumberSetting("report_interval_s", "Report interval (s)", catalog.REPORT_INTERVAL_S,
                                            0.01, 3600.0)
_TRAIN["evaluate_at_end"] = FlagSetting("evaluate_at_end", "Evaluate at the end", True)
MAX_PROBE_IMAGES = 256

_DATA = {s.key: s for s in (catalog.SHAPES_TRAIN_COUNT, catalog.VAL_FRACTION, catalog.CACHE_MB, catalog.SEED)}
_DATA["val_count"] = NumberSetting("val_count", "Shapes validation images", 20, 1, 1_000_000, integer=True)
_AUGMENT = {a.setting.key: a.setting for a in catalog.AUGMENTATIONS.values()}
_AUGMENT[catalog.CROP_SCALE_MIN.key] = catalog.CROP_SCALE_MIN

_MODEL = {
    "mlp": {s.key: s for s in (catalog.ACTIVATION, catalog.MLP_DROPOUT)},
    "cnn": {s.key: s for s in (catalog.CNN_BLOCKS, catalog.CNN_CHANNELS, catalog.CNN_BATCH_NORM,
                               catalog.CNN_DROPOUT, catalog.ACTIVATION)},
    "torchvision": {s.key: s for s in (catalog.FREEZE_BACKBONE, catalog.BACKBONE_LR_SCALE)}
    | {"pretrained": FlagSetting("pretrained", "Pretrained weights", False)},
}


def check_value(setting, value: Any) -> None:
    """The catalogue's check for one value (a flag must be true or false); SettingError otherwise."""
    if isinstance(setting, FlagSetting):
        if not isinstance(value, bool):
            raise SettingError(f"{setting.label}: {value!r} is not true or false")
    elif isinstance(setting, (NumberSetting, ChoiceSetting)):
        setting.check(value)


def _checked(values: dict, settings: dict, where: str) -> list[str]:
    problems = []
    for key, value in values.items():
        setting = settings.get(key)
        if setting is None:
            continue  # not a setting of this part (ignored by from_dict, or checked below)
        try:
            check_value(setting, value)
        except SettingError as exc:
            problems.append(f"{where}.{key}: {exc}")
    return problems


def _part(values: dict, name: str, problems: list[str]) -> dict:
    part = values.get(name, {})
    if part is None and name == "model_options":
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
    problems += _checked(train, _TRAIN, "train")
    problems += _probe_problems(train.get("probe_images", []))
    problems += _data_problems(data)
    model = values.get("model_name", catalog.DEFAULT_MODEL)
    if not isinstance(model, str) or model not in catalog.MODELS:
        problems.append(f"model_name: {str(model)[:40]!r} is not one of {', '.join(catalog.MODEL_NAMES)}")
    else:
        problems += _model_problems(catalog.MODELS[model].family, options)
    return problems


def _probe_problems(probes: Any) -> list[str]:
    if not isinstance(probes, list) or not all(isinstance(p, str) for p in probes):
        return ["train.probe_images: not a list of image paths"]
    if len(probes) > MAX_PROBE_IMAGES:
        return [f"train.probe_images: {len(probes)} images, more than {MAX_PROBE_IMAGES}"]
    return []


def _data_problems(data: dict) -> list[str]:
    problems = _checked(data, _DATA, "data")
    name = data.get("name", catalog.DEFAULT_DATASET)
    if not isinstance(name, str) or not name.strip() or "\0" in name or len(name) > 4096:
        problems.append(f"data.name: {str(name)[:40]!r} is not a dataset name or folder")
    if data.get("image_size") is not None:  # None: the dataset's own size
        try:
            check_value(catalog.IMAGE_SIZE, data["image_size"])
        except SettingError as exc:
            problems.append(f"data.image_size: {exc}")
    if data.get("channels") not in (None, 1, 3) or isinstance(data.get("channels"), bool):
        problems.append(f"data.channels: {data.get('channels')!r} is not 1 or 3")
    for key in ("mean", "std"):
        value = data.get(key)
        if value is not None and not (isinstance(value, list) and 1 <= len(value) <= 4 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 1e6
                for v in value) and (key == "mean" or all(v > 0 for v in value))):
            problems.append(f"data.{key}: {str(value)[:60]} is not a list of 1 to 4 finite numbers"
                            + (" above 0" if key == "std" else ""))
    augmentation = data.get("augmentation") or {}
    if not isinstance(augmentation, dict):
        problems.append("data.augmentation: not a JSON object")
    else:
        problems += _checked(augmentation, _AUGMENT, "data.augmentation")
    return problems


def _model_problems(family: str, options: dict) -> list[str]:
    problems = _checked(options, _MODEL.get(family, {}), "model_options")
    hidden = options.get("hidden")
    if family == "mlp" and hidden is not None:
        if not isinstance(hidden, list) or len(hidden) > catalog.MLP_HIDDEN_LAYERS.maximum:
            problems.append(f"model_options.hidden: not a list of at most {catalog.MLP_HIDDEN_LAYERS.maximum:g} widths")
        else:
            for i, width in enumerate(hidden):
                try:
                    check_value(catalog.MLP_WIDTH, width)
                except SettingError as exc:
                    problems.append(f"model_options.hidden[{i}]: {exc}")
    if "weights_path" in options and not isinstance(options["weights_path"], (str, type(None))):
        problems.append("model_options.weights_path: not a file path")
    return problems
