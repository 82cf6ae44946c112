"""How to train: TrainConfig, its fields, defaults and limits from core.catalog's TRAIN_SETTINGS, and its checks."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core import catalog
from core.training.errors import TrainingError


def _catalog_fields(cls):
    """Give `cls` one dataclass field per setting of core.catalog.TRAIN_SETTINGS (its key, type and default),
    so TrainConfig, the CLI's options and the app's form cannot drift apart."""
    kinds = {catalog.ChoiceSetting: str, catalog.FlagSetting: bool, catalog.PathsSetting: list}
    annotations = {}
    for setting in catalog.TRAIN_SETTINGS:
        if isinstance(setting, catalog.NumberSetting):
            annotations[setting.key] = int if setting.integer else float
            setattr(cls, setting.key, setting.default)
        elif isinstance(setting, catalog.PathsSetting):
            annotations[setting.key] = list
            setattr(cls, setting.key, field(default_factory=lambda d=setting.default: list(d)))
        else:
            annotations[setting.key] = kinds[type(setting)]
            setattr(cls, setting.key, setting.default)
    cls.__annotations__ = {**annotations, **cls.__dict__.get("__annotations__", {})}
    return dataclass(cls)


@_catalog_fields
class TrainConfig:
    """How to train: one field per setting of core.catalog.TRAIN_SETTINGS (epochs, batch_size, lr, optimizer,
    momentum, ..., num_workers, amp, compile, heartbeat_s, ...), each with the catalogue's default; `validate`
    applies the catalogue's limits, the same checks the CLI's options and a settings file go through."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def validate(self) -> None:
        """Raises TrainingError naming every value outside the catalogue's limits."""
        problems = catalog.setting_problems(self.to_dict(), catalog.TRAIN_SETTINGS)
        if problems:
            raise TrainingError("; ".join(str(p) for p in problems))
