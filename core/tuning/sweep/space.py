"""Which settings a sweep may vary, their limits (from core.catalog, so a sweep can never ask for a value the
app would refuse), and how a trial's values land in a run's settings.

A setting is named as the CLI and TrainConfig name it ("lr", "batch_size", "optimizer", "weight_decay"...),
a model option with "model." ("model.channels", "model.dropout"; an MLP's "model.hidden_layers" and
"model.hidden_width" make its list of widths), a data setting with "data." ("data.image_size"), and the
network itself is "model". Each is given as a range {"low", "high", "log", "step"} or a list of values
{"choices": [...]} (a bare list means the same).

Torch-free: settings are the plain dict a RunSettings.to_dict() gives (the trial's process builds the rest).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import catalog
from core.catalog import ChoiceSetting, FlagSetting, NumberSetting, SettingError
from core.errors import LayerscopeError

# Hyperparameters of the fit (not the run's plumbing: device, heartbeat, checkpoint interval...).
TRAIN_KEYS = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "schedule", "step_size",
              "gamma", "seed", "backbone_lr_scale", "early_stop_patience")
DATA_SETTINGS = {"data.image_size": catalog.IMAGE_SIZE, "data.train_count": catalog.SHAPES_TRAIN_COUNT,
                 "data.val_fraction": catalog.VAL_FRACTION}
MODEL_SETTING = ChoiceSetting("model", "Model", tuple(catalog.Choice(n, m.title) for n, m in catalog.MODELS.items()),
                              catalog.DEFAULT_MODEL)
MLP_WIDTH_KEYS = ("hidden_layers", "hidden_width")  # catalogue names of the two numbers an MLP's widths come from

Setting = NumberSetting | ChoiceSetting | FlagSetting


class SweepSpecError(LayerscopeError, ValueError):
    """A sweep definition that cannot be run; the message names the setting and what to write instead."""


@dataclass(frozen=True)
class Param:
    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple | None = None
    integer: bool = False

    @property
    def is_choice(self) -> bool:
        return self.choices is not None

    def to_dict(self) -> dict:
        if self.is_choice:
            return {"choices": list(self.choices)}
        out = {"low": self.low, "high": self.high, "log": self.log}
        return {**out, "step": self.step} if self.step is not None else out

    def suggest(self, trial) -> Any:
        """Draw this parameter's value for an optuna Trial."""
        if self.is_choice:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)


def setting_for(name: str, model_names: tuple[str, ...]) -> Setting:
    """The catalogue entry that limits parameter `name`; SweepSpecError for a name nothing knows."""
    if name == "model":
        return MODEL_SETTING
    if name in DATA_SETTINGS:
        return DATA_SETTINGS[name]
    if name.startswith("model."):
        key = name[len("model."):]
        for model in model_names:
            for option in catalog.MODELS[model].options:
                if option.key == key:
                    return option
        raise SweepSpecError(f"{name}: none of the swept models ({', '.join(model_names)}) has an option {key!r}")
    by_key = {s.key: s for s in catalog.TRAIN_SETTINGS}
    if name in TRAIN_KEYS and name in by_key:
        return by_key[name]
    known = ", ".join([*TRAIN_KEYS, "model", "model.<option>", *DATA_SETTINGS])
    raise SweepSpecError(f"{name!r} is not a setting a sweep can vary; use one of: {known}")


def parse_param(name: str, value: Any, setting: Setting) -> Param:
    if isinstance(value, list):
        value = {"choices": value}
    if not isinstance(value, dict):
        raise SweepSpecError(f"{name}: give a range {{\"low\": ..., \"high\": ...}} or {{\"choices\": [...]}}")
    unknown = set(value) - {"low", "high", "log", "step", "choices"}
    if unknown:
        raise SweepSpecError(f"{name}: unknown field(s) {', '.join(sorted(unknown))}")
    if "choices" in value:
        return _choice_param(name, value["choices"], setting)
    return _range_param(name, value, setting)


def _choice_param(name: str, choices: Any, setting: Setting) -> Param:
    if not isinstance(choices, list) or not choices:
        raise SweepSpecError(f"{name}: choices must be a non-empty list")
    if len(set(map(repr, choices))) != len(choices):
        raise SweepSpecError(f"{name}: a value is listed twice in choices")
    return Param(name, choices=tuple(_checked(name, setting, v) for v in choices))


def _range_param(name: str, value: dict, setting: Setting) -> Param:
    if not isinstance(setting, NumberSetting):
        raise SweepSpecError(f"{name} is a choice, not a number: list its values as \"choices\"")
    if "low" not in value or "high" not in value:
        raise SweepSpecError(f"{name}: a range needs both \"low\" and \"high\"")
    low, high = _checked(name, setting, value["low"]), _checked(name, setting, value["high"])
    log = value.get("log", False)
    step = value.get("step")
    if not isinstance(log, bool):
        raise SweepSpecError(f"{name}: \"log\" is true or false")
    if not low < high:
        raise SweepSpecError(f"{name}: low ({low:g}) must be below high ({high:g})")
    if log and low <= 0:
        raise SweepSpecError(f"{name}: a log range must start above 0 (got low {low:g})")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not (0 < step <= high - low):
            raise SweepSpecError(f"{name}: step must be a number between 0 and high - low")
        if log:
            raise SweepSpecError(f"{name}: a range has either a step or a log scale, not both")
        if setting.integer and step != int(step):
            raise SweepSpecError(f"{name}: a whole-number setting needs a whole-number step")
    return Param(name, low=low, high=high, log=log, step=step, integer=setting.integer)


def _checked(name: str, setting: Setting, value: Any):
    if isinstance(setting, FlagSetting):
        if not isinstance(value, bool):
            raise SweepSpecError(f"{name}: {value!r} is not true or false")
        return value
    try:
        return setting.check(value)
    except SettingError as exc:
        raise SweepSpecError(f"{name}: {exc}") from None


def apply_params(base: dict, values: dict[str, Any]) -> dict:
    """A trial's settings: the RunSettings dict `base` with the trial's `values` put in their places."""
    settings = {"data": dict(base.get("data") or {}), "model_name": base.get("model_name", catalog.DEFAULT_MODEL),
                "model_options": dict(base.get("model_options") or {}), "train": dict(base.get("train") or {})}
    settings.update({k: v for k, v in base.items() if k not in settings})
    if "model" in values and values["model"] != settings["model_name"]:
        settings["model_name"] = values["model"]
        settings["model_options"] = {}  # another network's options would not fit it
    model = catalog.MODELS.get(settings["model_name"])
    own = {o.key for o in model.options} if model else set()
    for name, value in values.items():
        if name == "model":
            continue
        if name.startswith("data."):
            settings["data"][name[len("data."):]] = value
            if name == "data.train_count":
                settings["data"].pop("val_count", None)  # follows the drawn count (below)
        elif name.startswith("model."):
            if name[len("model."):] in own:  # a swept option of another swept network is left out
                settings["model_options"][name[len("model."):]] = value
        else:
            settings["train"][name] = value
    data = settings["data"]
    if "train_count" in data and "val_count" not in data:  # as the CLI does: validation gets its share
        data["val_count"] = catalog.shapes_val_count(data["train_count"])
    _mlp_widths(settings, model)
    return settings


def _mlp_widths(settings: dict, model) -> None:
    """An MLP takes its widths as one list: build it from the two numbers a sweep varies."""
    options = settings["model_options"]
    if model is None or model.family != "mlp" or not any(k in options for k in MLP_WIDTH_KEYS):
        return
    default = catalog.MODELS["mlp"].default_options()["hidden"]
    layers = int(options.pop("hidden_layers", len(options.get("hidden", default))))
    width = int(options.pop("hidden_width", (options.get("hidden") or default or [catalog.MLP_WIDTH.default])[0]))
    options["hidden"] = [width] * layers


def param_from_text(name: str, text: str) -> dict | list:
    """What a person types for a parameter, as the definition writes it: "1e-4 .. 0.1 log" is a (log) range,
    "16, 32, 64" or "adam, sgd" a list (numbers as numbers, true/false as flags). SweepSpecError when empty."""
    words = text.strip()
    if ".." in words:
        low_text, _, rest = words.partition("..")
        parts = rest.split()
        log = len(parts) > 1 and parts[1].lower() == "log"
        if not parts or len(parts) > 2 or (len(parts) == 2 and not log):
            raise SweepSpecError(f"{name}: write a range as \"LOW .. HIGH\" or \"LOW .. HIGH log\" (got {text!r})")
        return {"low": _number(name, low_text.strip()), "high": _number(name, parts[0]), "log": log}
    values = [_value(v.strip()) for v in words.split(",") if v.strip()]
    if not values:
        raise SweepSpecError(f"{name}: give a range (LOW .. HIGH) or a list of values (a, b, c)")
    return values


def _number(name: str, text: str) -> int | float:
    value = _value(text)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SweepSpecError(f"{name}: {text!r} is not a number")
    return value


def _value(text: str):
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
