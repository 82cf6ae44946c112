"""A sweep definition: a small plain-JSON file (or the dict the app's dialog makes).

    {"version": 1, "name": "lr-and-batch",
     "base": {"data": {"name": "shapes", "train_count": 2000}, "model_name": "cnn", "train": {"epochs": 3}},
     "params": {"lr": {"low": 1e-4, "high": 0.1, "log": true}, "batch_size": {"choices": [16, 32, 64]}},
     "trials": 12, "sampler": "tpe", "seed": 0,
     "metric": "val_acc", "direction": "maximize", "summary": "best",
     "pruner": "median", "pruner_startup_trials": 3, "pruner_warmup_epochs": 1}

`base` is a run's settings (RunSettings.to_dict(), partial is fine: the rest takes the defaults), `params` what
varies (core.tuning.sweep.space). `metric` is a per-epoch number of the run records; `summary` says whether a
trial scores its best epoch or its last. Everything is checked here, against the catalogue, before a trial runs.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import catalog
from core.catalog import SettingError
from core.io.safefile import FileRefused, read_regular_file
from core.training.config import TrainConfig  # torch-free: the settings dataclass and its errors only
from core.tuning.sweep.space import Param, SweepSpecError, parse_param, setting_for

SPEC_VERSION = 1
MAX_SPEC_BYTES = 1 << 20
MAX_DEPTH = 12
MAX_TRIALS = 100_000
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("none", "median")
METRICS = {"val_acc": "maximize", "val_loss": "minimize", "train_acc": "maximize", "train_loss": "minimize"}
SUMMARIES = ("best", "last")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
FIELDS = {"version", "name", "base", "params", "trials", "sampler", "seed", "metric", "direction", "summary",
          "pruner", "pruner_startup_trials", "pruner_warmup_epochs"}


@dataclass(frozen=True)
class SweepSpec:
    params: dict[str, Param]
    base: dict = field(default_factory=dict)
    name: str = "sweep"
    trials: int = 12
    sampler: str = "tpe"
    seed: int = 0
    metric: str = "val_acc"
    direction: str = "maximize"
    summary: str = "best"
    pruner: str = "none"
    pruner_startup_trials: int = 3
    pruner_warmup_epochs: int = 1

    def to_dict(self) -> dict:
        return {"version": SPEC_VERSION, "name": self.name, "base": self.base,
                "params": {n: p.to_dict() for n, p in self.params.items()}, "trials": self.trials,
                "sampler": self.sampler, "seed": self.seed, "metric": self.metric, "direction": self.direction,
                "summary": self.summary, "pruner": self.pruner, "pruner_startup_trials": self.pruner_startup_trials,
                "pruner_warmup_epochs": self.pruner_warmup_epochs}

    @property
    def grid(self) -> dict[str, list] | None:
        """The grid sampler's search space (every parameter a list of values); None for other samplers."""
        if self.sampler != "grid":
            return None
        return {n: list(p.choices) for n, p in self.params.items()}

    def grid_size(self) -> int:
        size = 1
        for values in (self.grid or {}).values():
            size *= len(values)
        return size

    @classmethod
    def from_dict(cls, d: Any) -> "SweepSpec":
        if not isinstance(d, dict):
            raise SweepSpecError("a sweep definition is a JSON object")
        unknown = set(d) - FIELDS
        if unknown:
            raise SweepSpecError(f"unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(FIELDS))}")
        if d.get("version", SPEC_VERSION) != SPEC_VERSION:
            raise SweepSpecError(f"version {d.get('version')!r}: this Layerscope reads sweep definitions of version "
                                 f"{SPEC_VERSION}")
        base = _base(d.get("base", {}))
        params = _params(d.get("params"), base)
        metric = _one_of("metric", d.get("metric", "val_acc"), tuple(METRICS))
        spec = cls(params=params, base=base, name=_name(d.get("name", "sweep")),
                   trials=_whole("trials", d.get("trials", 12), 1, MAX_TRIALS),
                   sampler=_one_of("sampler", d.get("sampler", "tpe"), SAMPLERS),
                   seed=_whole("seed", d.get("seed", 0), 0, 2**31 - 1), metric=metric,
                   direction=_one_of("direction", d.get("direction", METRICS[metric]), ("maximize", "minimize")),
                   summary=_one_of("summary", d.get("summary", "best"), SUMMARIES),
                   pruner=_one_of("pruner", d.get("pruner", "none"), PRUNERS),
                   pruner_startup_trials=_whole("pruner_startup_trials", d.get("pruner_startup_trials", 3), 0, 10_000),
                   pruner_warmup_epochs=_whole("pruner_warmup_epochs", d.get("pruner_warmup_epochs", 1), 0, 10_000))
        if spec.sampler == "grid":
            ranged = [n for n, p in params.items() if not p.is_choice]
            if ranged:
                raise SweepSpecError(f"the grid sampler needs a list of values for every setting: give "
                                     f"{', '.join(ranged)} as \"choices\": [...]")
        return spec


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep file (a regular file of at most 1 MiB, plain JSON, not deeply nested)."""
    try:
        data = json.loads(read_regular_file(path, MAX_SPEC_BYTES).decode("utf-8"))
    except FileRefused as exc:
        raise SweepSpecError(f"{path}: {exc.reason}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SweepSpecError(f"{path}: not a JSON sweep definition ({str(exc)[:120]})") from None
    if _depth(data) > MAX_DEPTH:
        raise SweepSpecError(f"{path}: nested more than {MAX_DEPTH} levels deep")
    try:
        return SweepSpec.from_dict(data)
    except SweepSpecError as exc:
        raise SweepSpecError(f"{path}: {exc}") from None


def _params(value: Any, base: dict) -> dict[str, Param]:
    if not isinstance(value, dict) or not value:
        raise SweepSpecError("\"params\" must name at least one setting to vary, e.g. {\"lr\": {\"low\": 1e-4, "
                             "\"high\": 0.1, \"log\": true}}")
    models = [base.get("model_name", catalog.DEFAULT_MODEL)]
    if isinstance(value.get("model"), (dict, list)):
        choices = value["model"]["choices"] if isinstance(value["model"], dict) else value["model"]
        models += [m for m in (choices if isinstance(choices, list) else []) if m in catalog.MODELS]
    if models[0] not in catalog.MODELS:
        raise SweepSpecError(f"base: model {models[0]!r} is not one of {', '.join(catalog.MODEL_NAMES)}")
    return {name: parse_param(name, v, setting_for(name, tuple(dict.fromkeys(models)))) for name, v in value.items()}


def _base(value: Any) -> dict:
    if not isinstance(value, dict):
        raise SweepSpecError("\"base\" is a run's settings: {\"data\": {...}, \"model_name\": ..., \"train\": {...}}")
    for key in ("data", "model_options", "train"):
        if key in value and not isinstance(value[key], dict):
            raise SweepSpecError(f"base: {key!r} must be an object")
    if "model_name" in value and not isinstance(value["model_name"], str):
        raise SweepSpecError("base: model_name must be a model's name")
    _check_train(value.get("train", {}))
    return value


def _check_train(train: dict) -> None:
    """A misspelt training setting would be dropped silently by TrainConfig.from_dict: name it here instead."""
    unknown = sorted(set(train) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise SweepSpecError(f"base: unknown training setting(s) {', '.join(unknown)}")
    limits = {s.key: s for s in catalog.TRAIN_SETTINGS if hasattr(s, "check")}
    for key, v in train.items():
        if key in limits:
            try:
                limits[key].check(v)
            except SettingError as exc:
                raise SweepSpecError(f"base: {exc}") from None


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise SweepSpecError("name: 1 to 100 letters, digits, spaces, '.', '_' or '-'")
    return value


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SweepSpecError(f"{name}: a whole number from {low} to {high} (got {value!r})")
    return value


def _one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SweepSpecError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level
