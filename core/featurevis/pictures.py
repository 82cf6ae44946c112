"""What a visualization gives back: one picture per unit with its sanity numbers, and the set of them."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class UnitPicture:
    unit: int
    label: str  # "channel 3", "unit 3" or the class name
    image: np.ndarray  # uint8 [H, W, C], C = the model's channels (1 or 3)
    activation: float  # the unit's activation for the picture (a channel's spatial max), as the Dossier measures
    position: tuple[int, int] | None = None  # (y, x) of that max in the channel's map
    field_box: tuple[int, int, int, int] | None = None  # (top, left, bottom, right): the pixels that position sees
    real_activation: float | None = None  # the strongest activation over the real images searched
    real_index: int | None = None  # which dataset item gave it
    ratio: float | None = None  # activation / real_activation (None: no positive real top to compare with)
    weight_correlation: float | None = None  # first layers: the picture against the unit's own weights
    class_probability: float | None = None  # class pictures: the model's probability for that class
    predicted_class: str | None = None  # class pictures: what the model calls the picture

    def numbers(self) -> dict:
        """Everything but the pixels, as plain JSON values (NaN and inf become None)."""
        d = asdict(self)
        d.pop("image")
        for key, value in d.items():
            if isinstance(value, float) and not math.isfinite(value):
                d[key] = None
            elif isinstance(value, tuple):
                d[key] = list(value)
        return d


@dataclass
class VisResult:
    layer: str  # a module name, or "output" for classes
    kind: str  # "conv", "linear" or "output"
    weights_checksum: str
    settings: dict
    settings_key: str
    image_size: int
    channels: int
    pictures: list[UnitPicture] = field(default_factory=list)
    real_source: str | None = None  # what the real activations were searched in
    notes: list[str] = field(default_factory=list)  # what could not be computed, in plain words
    files: list[Path] = field(default_factory=list)  # written by this call
    cached_units: list[int] = field(default_factory=list)  # served from the cache, not optimised again

    @property
    def units(self) -> list[int]:
        return [p.unit for p in self.pictures]

    def picture(self, unit: int) -> UnitPicture:
        return next(p for p in self.pictures if p.unit == unit)

    def header(self) -> dict:
        return {"layer": self.layer, "kind": self.kind, "weights_checksum": self.weights_checksum,
                "settings": self.settings, "settings_key": self.settings_key, "image_size": self.image_size,
                "channels": self.channels, "real_source": self.real_source, "notes": list(self.notes),
                "units": [p.numbers() for p in self.pictures]}
