"""The first layer's pictures at the end of every epoch, for small models: watch its units become colour and
edge detectors, replayed with a slider. The trainer's callback (during_training.py) calls `visualize_epoch`
after each epoch (and once before the first, for the weights the run starts from); the Dossier reads
`saved_epochs` and `load_epoch`. Stored as RUN/featurevis/epochs/epoch-0003/ (core.runs.layout; the same
files as any visualization: pictures.npz, sanity.json, PNGs, mosaic.png)."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import torch.nn as nn

from core.catalog import FEATURE_PICTURES_MAX_SIZE
from core.checkpoints.schema import weights_checksum
from core.data.transforms import Preprocess
from core.featurevis.optimize import VisSettings
from core.featurevis.pictures import VisResult
from core.featurevis.store import load_result, save_result
from core.featurevis.units import first_layer
from core.featurevis.visualize import Target, visualize_model
from core.progress import NO_PROGRESS, Progress
from core.runs.layout import EPOCH_PREFIX, RunLayout

# A first layer converges in tens of steps (it has no random transforms; see optimize.first_layer_penalty).
EPOCH_SETTINGS = VisSettings(steps=64)
MAX_EPOCH_UNITS = 64
_EPOCH_NAME = re.compile(re.escape(EPOCH_PREFIX) + r"(\d{4,6})")


def epoch_folder(run_dir: str | Path, epoch: int) -> Path:
    return RunLayout(run_dir).featurevis_epoch(epoch)


def suits_epoch_mode(pre: Preprocess) -> bool:
    """"Small models": above FEATURE_PICTURES_MAX_SIZE px a whole first layer costs too long every epoch."""
    return pre.image_size <= FEATURE_PICTURES_MAX_SIZE


def visualize_epoch(model: nn.Module, pre: Preprocess, run_dir: str | Path, epoch: int, *,
                    settings: VisSettings = EPOCH_SETTINGS, max_units: int = MAX_EPOCH_UNITS, copy_model: bool = True,
                    progress: Progress = NO_PROGRESS) -> VisResult | None:
    """Pictures of the first layer's units (at most `max_units`) saved as epoch `epoch` of the run; None when
    the model has no layer that reads the picture. copy_model: work on a copy of the weights, so the caller
    may go on training (or hand this to another thread) meanwhile."""
    model = copy.deepcopy(model) if copy_model else model
    layer = first_layer(model, (pre.channels, pre.image_size, pre.image_size))
    if layer is None:
        return None
    module = dict(model.named_modules())[layer]
    count = module.out_channels if isinstance(module, nn.Conv2d) else module.out_features
    units = list(range(min(count, max_units)))
    noun = "channel" if isinstance(module, nn.Conv2d) else "unit"
    target = Target(layer, "conv" if isinstance(module, nn.Conv2d) else "linear", units,
                    [f"{noun} {u}" for u in units], True)
    pictures = visualize_model(model, pre, [], target, settings, progress)
    result = VisResult(layer, target.kind, weights_checksum(model.state_dict()), settings.to_dict(),
                       settings.key(pre.image_size), pre.image_size, pre.channels, pictures,
                       notes=[f"epoch {int(epoch)}"])
    result.files = save_result(result, epoch_folder(run_dir, epoch))
    return result


def saved_epochs(run_dir: str | Path) -> list[int]:
    """Epochs that have first-layer pictures, in order (0: before the first epoch)."""
    folder = RunLayout(run_dir).featurevis_epochs
    try:
        names = [p.name for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    return sorted(int(m.group(1)) for n in names if (m := _EPOCH_NAME.fullmatch(n)))


def load_epoch(run_dir: str | Path, epoch: int) -> VisResult | None:
    """The pictures saved for `epoch`, None when there are none; StoreError when the file is damaged."""
    return load_result(epoch_folder(run_dir, epoch))
