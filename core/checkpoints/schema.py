"""What a checkpoint's fields must look like, checked before anything is built from them.

Every check says which field is wrong and what it holds, so one CheckpointError tells the user what is
damaged. `weights_checksum` is a SHA-256 over the weights (names, dtypes, shapes and bytes) stored at save
time and verified at load time: a flipped bit is reported as damage instead of being used silently.
"""
from __future__ import annotations

import hashlib
import math
import numbers

import torch

from core.data.transforms import DECODE_RULES, LEGACY_DECODE
from core.errors import LayerscopeError

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 4096
MAX_CLASSES = 100_000
MAX_CHANNELS = 4
EPOCH_FIELDS = ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_sec",
                "duration_s")


class SchemaError(LayerscopeError, ValueError):
    """One field of a checkpoint is wrong; the message names it."""


def weights_checksum(state: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int(d: dict, key: str, where: str, low: int, high: int | None = None, default=None) -> int:
    value = d.get(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SchemaError(f"{where}{key} should be a whole number, not {_short(value)}")
    if value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise SchemaError(f"{where}{key} is {value}; it should be {limit}")
    return int(value)


def check_table(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise SchemaError(f"{where} should be a table of fields, not {_short(value)}")
    return value


def check_format_version(payload: dict, supported: int) -> int:
    version = payload.get("format_version")
    if isinstance(version, bool) or not isinstance(version, numbers.Integral):
        raise SchemaError(f"format_version {_short(version)} is not a version number")
    if version < 1:
        raise SchemaError(f"format_version {version} is not a valid version")
    if version > supported:
        raise SchemaError(f"written by a newer Layerscope (format {version}, this one reads up to {supported}); "
                          "update Layerscope")
    return int(version)


def check_model_spec(spec, model_names) -> None:
    spec = check_table(spec, "model_spec")
    name = spec.get("name")
    if not isinstance(name, str) or name not in model_names:
        raise SchemaError(f"model {_short(name)} is not a known model (known: {', '.join(model_names)})")
    _int(spec, "num_classes", "model_spec.", 2, MAX_CLASSES)
    _int(spec, "in_channels", "model_spec.", 1, MAX_CHANNELS, default=3)
    _int(spec, "image_size", "model_spec.", MIN_IMAGE_SIZE, MAX_IMAGE_SIZE, default=64)
    check_table(spec.get("options", {}) or {}, "model_spec.options")


def check_classes(classes, num_classes: int) -> None:
    if not isinstance(classes, (list, tuple)) or not all(isinstance(c, str) for c in classes):
        raise SchemaError(f"classes should be a list of names, not {_short(classes)}")
    if len(classes) != num_classes:
        raise SchemaError(f"it names {len(classes)} classes but its model has {num_classes} outputs")


def check_preprocess(pre, model_spec: dict) -> None:
    pre = check_table(pre, "preprocess")
    size = _int(pre, "image_size", "preprocess.", MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
    channels = _int(pre, "channels", "preprocess.", 1, MAX_CHANNELS, default=3)
    if size != model_spec.get("image_size", 64):
        raise SchemaError(f"preprocess.image_size {size} differs from the model's {model_spec.get('image_size', 64)}")
    for key in ("mean", "std"):
        values = pre.get(key)
        if (not isinstance(values, (list, tuple)) or len(values) != channels
                or not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in values)):
            raise SchemaError(f"preprocess.{key} should be {channels} finite numbers, not {_short(values)}")
    if any(v <= 0 for v in pre["std"]):
        raise SchemaError(f"preprocess.std should be positive, not {_short(pre['std'])}")
    decode = pre.get("decode", LEGACY_DECODE)  # absent in checkpoints written before the rule was recorded
    if decode not in DECODE_RULES:
        raise SchemaError(f"preprocess.decode is {_short(decode)}; it should be one of {', '.join(DECODE_RULES)}")


def check_model_state(state) -> None:
    state = check_table(state, "model_state")
    bad = next((k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None or not state:
        raise SchemaError("model_state should map layer names to weight tensors")


def check_training_state(state) -> None:
    """The fields a resume needs: optimizer, scheduler, epoch, step, config, data_spec, history (and an fp16
    run's grad_scaler)."""
    state = check_table(state, "training_state")
    _int(state, "epoch", "training_state.", 0)
    _int(state, "step", "training_state.", 0)
    check_table(state.get("config"), "training_state.config")
    data_spec = check_table(state.get("data_spec"), "training_state.data_spec")
    if not isinstance(data_spec.get("name", "shapes"), str):
        raise SchemaError(f"training_state.data_spec.name should be a dataset name, not {_short(data_spec.get('name'))}")
    optimizer = check_table(state.get("optimizer"), "training_state.optimizer")
    if not isinstance(optimizer.get("state"), dict) or not isinstance(optimizer.get("param_groups"), list) \
            or not all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in optimizer["param_groups"]):
        raise SchemaError("training_state.optimizer should hold 'state' and a list of 'param_groups'")
    scheduler = state.get("scheduler")
    if scheduler is not None:
        check_table(scheduler, "training_state.scheduler")
    scaler = state.get("grad_scaler")
    if scaler is not None:  # fp16's GradScaler: a positive, finite scale and its plain-number settings
        scaler = check_table(scaler, "training_state.grad_scaler")
        scale = scaler.get("scale")
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale <= 0:
            raise SchemaError(f"training_state.grad_scaler.scale should be a positive number, not {_short(scale)}")
        for key in ("growth_factor", "backoff_factor"):
            value = scaler.get(key)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
                raise SchemaError(f"training_state.grad_scaler.{key} should be a positive number, not {_short(value)}")
        _int(scaler, "growth_interval", "training_state.grad_scaler.", 1)
        _int(scaler, "_growth_tracker", "training_state.grad_scaler.", 0)
    history = state.get("history", [])
    if not isinstance(history, list):
        raise SchemaError(f"training_state.history should be a list of epochs, not {_short(history)}")
    for i, record in enumerate(history):
        if not isinstance(record, dict) or not set(EPOCH_FIELDS) <= set(record) or not all(
                isinstance(record[k], numbers.Real) and not isinstance(record[k], bool) for k in EPOCH_FIELDS):
            raise SchemaError(f"training_state.history[{i}] is not an epoch record ({_short(record)})")
