"""Plain result records that the worker hands to the GUI thread: copies (numpy arrays, floats, strings),
never live tensors or models. Each carries the generation it was asked for, so a result for an image that
has since been replaced can be recognised and dropped."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def is_vector_shape(shape) -> bool:
    """[N], or [C, 1, 1] (after global pooling): one number per unit, drawn as bars, not as a mosaic."""
    return len(shape) == 1 or (len(shape) == 3 and int(shape[1]) * int(shape[2]) == 1)


@dataclass
class RowResult:
    """One image of a drop: its top-k, or the reason it could not be read."""

    generation: int
    row: int
    label: str  # file name (or URL name) as shown
    where: str  # full path or URL
    top: list[tuple[str, float]] = field(default_factory=list)
    thumbnail: np.ndarray | None = None  # uint8 [h, w, 3]
    error: str | None = None
    familiarity: tuple[float, bool] | None = None  # (score, familiar); None: no bank (unknown)


@dataclass
class FamiliarityShown:
    """The familiarity of the inspected image, or why it is unknown (familiarity_view.py shows it)."""

    familiarity: Any = None  # core.familiarity.scoring.Familiarity, None: unknown
    note: str = ""  # why it is unknown
    can_compute: bool = False  # the checkpoint is a file: its bank can be built beside it
    calibrated_on: str = "val"
    thumbnails: list = field(default_factory=list)  # one uint8 [h, w, 3] per nearest image, None where not a file


@dataclass
class DetailResult:
    """Everything shown for the selected image: prediction, the model's view and every layer."""

    generation: int
    row: int
    label: str
    inspection: Any = None  # core.inspect.Inspection
    filters: np.ndarray | None = None  # first-layer filters as RGB uint8, or None
    layer_names: list[str] = field(default_factory=list)  # layers that Grad-CAM can use
    cam_layer: str | None = None  # the automatic Grad-CAM layer (last conv)
    classes: list[str] = field(default_factory=list)
    model_source: str = ""
    model_id: int = 0  # id() of the model that ran it: tests check it is a copy, not the training model
    error: str | None = None
    familiarity: FamiliarityShown | None = None


@dataclass
class SaliencyResult:
    generation: int
    method: str
    target: int
    layer: str | None
    heatmap: np.ndarray | None = None  # float32 [S, S] in [0, 1]
    error: str | None = None
    compare_target: int | None = None  # the side-by-side class, and its map
    compare_heatmap: np.ndarray | None = None
