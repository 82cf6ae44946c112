"""The one settings model of a run, observable, and the small helpers that bind widgets to it.

Every value of the next run lives here once, as plain Python. Each value has one owner tab that edits it
(OWNERS); the other tabs only show it (`OwnerLink`, a label with a link to the owner tab) or read it. A
change, from a widget or from code, emits `changed(key, value)` once; setting a value that is already
there emits nothing, so two-way bindings cannot loop.

No torch here: the window builds this before the engine loads. `build()` turns the values into core's
RunSettings after it has loaded (core.training.session imports torch).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit

from core import catalog
from core.errors import LayerscopeError

# The Train form's values: every setting of core.catalog.TRAIN_OPTIONS that a group of that form edits (the one
# schema TrainConfig and the CLI's train options are made from too).
TRAIN_FORM_OPTIONS: dict[str, catalog.RunOption] = {
    o.key: o for o in catalog.TRAIN_OPTIONS if o.place in catalog.TRAIN_FORM_GROUPS}
# Fractional numbers are kept as typed (a line edit; checked when a run starts, so typing is never interrupted).
TYPED_KEYS = tuple(key for key, o in TRAIN_FORM_OPTIONS.items()
                   if isinstance(o.setting, catalog.NumberSetting) and not o.setting.integer)

# Which tab edits which value: the Train tab the optimisation, the Data tab what is trained on, the Model
# tab what is trained. Other tabs show these read-only with a link to their owner.
OWNERS = {
    **{key: "train" for key in TRAIN_FORM_OPTIONS},
    "dataset": "data", "train_count": "data", "image_size": "data", "val_fraction": "data",
    "augmentation": "data",
    "model": "model", "model_options": "model", **{o.key: "model" for o in catalog.TRAIN_OPTIONS if o.place == "model"},
}
# What the app remembers, in the sections older versions wrote (so their saved settings still load).
FORM_KEYS = ("dataset", "train_count", "model", *TRAIN_FORM_OPTIONS)
DATA_OPTION_KEYS = ("image_size", "val_fraction")
# The TrainConfig fields the app's values set (nproc is how the app runs it, not part of RunSettings).
_CONFIG_KEYS = tuple(o.key for o in catalog.TRAIN_OPTIONS if o.config and o.place in (*catalog.TRAIN_FORM_GROUPS, "model"))


class SettingsError(LayerscopeError, ValueError):
    """A value cannot be used for a run; the message names the field and what to type."""


def default_values() -> dict:
    """Every key's default, from core's catalogue (the same defaults TrainConfig and DataSpec use)."""
    c = catalog
    train = {key: f"{o.setting.default:g}" if key in TYPED_KEYS else o.setting.default
             for key, o in TRAIN_FORM_OPTIONS.items()}
    return {
        **train,
        "dataset": c.DEFAULT_DATASET, "train_count": c.SHAPES_TRAIN_COUNT.default,
        "image_size": c.IMAGE_SIZE.default, "val_fraction": c.VAL_FRACTION.default, "augmentation": {},
        "model": c.DEFAULT_MODEL, "model_options": c.MODELS[c.DEFAULT_MODEL].default_options(),
        "backbone_lr_scale": c.BACKBONE_LR_SCALE.default,
    }


def _number_text(value) -> str:
    """A typed number is kept as typed (checked when a run starts, so typing is never interrupted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a number")
    return f"{value:g}" if isinstance(value, (int, float)) else value.strip()


def _mapping(value) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{value!r} is not a mapping")
    return dict(value)


def _dataset(value) -> str:
    if not isinstance(value, (str, Path)) or not str(value):
        raise ValueError(f"{value!r} is not a dataset name or folder")
    return str(value)


def _model(value) -> str:
    if value not in catalog.MODELS:
        raise ValueError(f"{value!r} is not one of {', '.join(catalog.MODEL_NAMES)}")
    return value


# How each key's value is checked: the catalogue's limits and choices.
_CHECK = {
    **{key: _number_text if key in TYPED_KEYS else o.setting.check for key, o in TRAIN_FORM_OPTIONS.items()},
    "train_count": catalog.SHAPES_TRAIN_COUNT.check,
    "dataset": _dataset, "image_size": catalog.IMAGE_SIZE.check, "val_fraction": catalog.VAL_FRACTION.check,
    "augmentation": _mapping, "model": _model, "model_options": _mapping,
    "backbone_lr_scale": catalog.BACKBONE_LR_SCALE.check,
}


class RunSettingsModel(QObject):
    """The next run's settings. `changed(key, value)` fires once per real change."""

    changed = Signal(str, object)

    def __init__(self, values: dict | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._values = default_values()
        if values:
            self.update(values)

    def get(self, key: str):
        value = self._values[key]
        return dict(value) if isinstance(value, dict) else value

    def values(self, keys=None) -> dict:
        return {k: self.get(k) for k in (keys or self._values)}

    def set(self, key: str, value) -> bool:
        """Set one value; True when it changed. Raises ValueError for an unusable value or unknown key."""
        if key not in _CHECK:
            raise ValueError(f"unknown run setting {key!r}")
        value = _CHECK[key](value)  # catalog.SettingError is a ValueError
        if self._values[key] == value:
            return False
        old, options = self._values[key], self._values["model_options"]
        self._values[key] = value
        self.changed.emit(key, self.get(key))
        if key == "model" and self._values["model_options"] is options \
                and catalog.MODELS[old].family != catalog.MODELS[value].family:
            # Nobody (no Model tab) gave options for the new kind of model: its defaults, not the old one's.
            self.set("model_options", catalog.MODELS[value].default_options())
        return True

    def update(self, values: dict) -> None:
        """Apply the usable values given; unknown keys and unusable values are skipped (settings saved by an
        older version, or damaged, never break the window)."""
        for key, value in values.items():
            try:
                self.set(key, value)
            except (TypeError, ValueError):
                pass

    def restore(self, saved: dict) -> None:
        """Remembered values: as `update`, but a dataset folder that is gone is not brought back."""
        saved = dict(saved)
        dataset = saved.get("dataset")
        if isinstance(dataset, str) and dataset not in catalog.DATASET_NAMES and not Path(dataset).is_dir():
            saved.pop("dataset")
        self.update(saved)

    def build(self):
        """The values as core's RunSettings (imports torch: call once the engine has loaded).
        Raises SettingsError naming a bad field and what to type."""
        return build_run_settings(self.values())


def _typed_number(setting: catalog.NumberSetting, text: str) -> float:
    """A typed number, checked against the catalogue; SettingsError names the field and what to type."""
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{setting.label}: '{text}' is not a number; type something like "
                            f"{setting.default:g}") from None
    try:
        return setting.check(value)
    except catalog.SettingError as exc:
        raise SettingsError(str(exc)) from None


def build_run_settings(v: dict):
    """Plain values -> core.training.session.RunSettings, checked."""
    from core.data.spec import DataSpec
    from core.data.transforms import Augmentation
    from core.training.config import TrainConfig
    from core.training.session import RunSettings

    if not v["model"]:
        raise SettingsError("No model is selected")
    train = {key: _typed_number(TRAIN_FORM_OPTIONS[key].setting, v[key]) if key in TYPED_KEYS else v[key]
             for key in _CONFIG_KEYS}
    data = DataSpec(name=v["dataset"], seed=v["seed"], image_size=v["image_size"], val_fraction=v["val_fraction"],
                    augmentation=Augmentation.from_dict(v["augmentation"]))
    if v["dataset"] == "shapes":
        data.train_count = v["train_count"]
        data.val_count = catalog.shapes_val_count(v["train_count"])
    return RunSettings(data=data, model_name=v["model"], model_options=dict(v["model_options"]),
                       train=TrainConfig(**train))


# ---- binding widgets --------------------------------------------------------------------------------
def bind_spin(model: RunSettingsModel, key: str, spin) -> None:
    """A QSpinBox / QDoubleSpinBox edits `key` (the box's range clamps what the model is given)."""
    spin.setValue(model.get(key))
    spin.valueChanged.connect(lambda value: model.update({key: value}))
    model.changed.connect(lambda k, value: spin.setValue(value) if k == key and spin.value() != value else None)
    if spin.value() != model.get(key):  # clamped by the box: the model takes what the box can show
        model.update({key: spin.value()})


def bind_check(model: RunSettingsModel, key: str, box) -> None:
    """A QCheckBox edits the on/off value `key`."""
    box.setChecked(model.get(key))
    box.toggled.connect(lambda on: model.update({key: bool(on)}))
    model.changed.connect(lambda k, value: box.setChecked(value) if k == key and box.isChecked() != value else None)


def bind_combo(model: RunSettingsModel, key: str, combo: QComboBox) -> None:
    """A combo box of texts edits `key`."""
    def show(value) -> None:
        index = combo.findText(str(value))
        if index >= 0 and index != combo.currentIndex():
            combo.setCurrentIndex(index)

    show(model.get(key))
    combo.currentTextChanged.connect(lambda text: model.update({key: text}) if text else None)
    model.changed.connect(lambda k, value: show(value) if k == key else None)


def bind_line(model: RunSettingsModel, key: str, edit: QLineEdit) -> None:
    """A line edit edits `key` as text (checked when a run starts, so typing is never interrupted)."""
    edit.setText(model.get(key))
    edit.textEdited.connect(lambda text: model.update({key: text}))
    model.changed.connect(lambda k, value: edit.setText(value) if k == key and edit.text().strip() != value else None)


class OwnerLink(QLabel):
    """A value shown read-only where another tab owns it, with a link that opens that tab:
    `ownerRequested(tab)` fires with OWNERS[key] ("train", "data" or "model")."""

    ownerRequested = Signal(str)

    def __init__(self, model: RunSettingsModel, key: str, text_for=str, parent=None):
        super().__init__(parent)
        self._model, self._key, self._text_for = model, key, text_for
        self._link_shown = True
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        owner = OWNERS[key]
        self.setToolTip(f"Set in the {owner.capitalize()} tab")
        self.linkActivated.connect(lambda _href: self.ownerRequested.emit(owner))
        model.changed.connect(lambda k, _v: self._show() if k == key else None)
        self._show()

    def value_text(self) -> str:
        return self._text_for(self._model.get(self._key))

    def hide_link(self) -> None:
        """The value only: a record of another run's settings, which no tab changes."""
        self._link_shown = False
        self.setToolTip("")
        self._show()

    def _show(self) -> None:
        from html import escape

        owner = OWNERS[self._key].capitalize()
        link = f" &nbsp;<a href='{OWNERS[self._key]}'>change in {owner}…</a>" if self._link_shown else ""
        self.setText(f"<b>{escape(self.value_text())}</b>{link}")


# ---- a run's recorded settings ------------------------------------------------------------------------
def values_from_config(config: dict) -> dict:
    """A run folder's config.json -> this model's values (what "train again" fills in, and what the Train tab
    shows of a followed run). Only what the run recorded; a version-0 file (no "version") has the same fields."""
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    values = {"dataset": data.get("name"), "train_count": data.get("train_count"), "model": config.get("model_name"),
              "image_size": data.get("image_size"), "val_fraction": data.get("val_fraction"),
              "augmentation": data.get("augmentation"), "model_options": config.get("model_options")}
    for key in _CONFIG_KEYS:
        values[key] = train.get(key)
    return {k: v for k, v in values.items() if v is not None}


# ---- remembering --------------------------------------------------------------------------------------
def remember(app_settings, model: RunSettingsModel) -> None:
    """Save the run settings with the window's other settings (gui.settings.AppSettings sections)."""
    app_settings.save_form(model.values(FORM_KEYS))
    app_settings.save_section("data/options", model.values(DATA_OPTION_KEYS))
    app_settings.save_section("data/augmentation", model.get("augmentation"))


def recall(app_settings, model: RunSettingsModel) -> None:
    """Apply what `remember` saved; damaged or outdated entries fall back to the defaults."""
    model.restore({**app_settings.load_form(), **app_settings.load_section("data/options")})
    augmentation = app_settings.load_section("data/augmentation")
    if augmentation:
        model.update({"augmentation": augmentation})
