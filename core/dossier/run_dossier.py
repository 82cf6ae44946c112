"""Open a run's top images per channel for viewing: RUN/dossier/topk.npz when the run kept it, else (a run
from before the dossier, or one trained without --dossier) computed now from its checkpoint over its
validation split and saved there, so the next opening is immediate."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from core.dossier.render import display_image
from core.dossier.store import DossierFileError, load_topk, save_topk, topk_path
from core.dossier.topk import TopKResult
from core.errors import describe_failure
from core.runs.layout import BEST, LAST, RunLayout
from core.progress import NO_PROGRESS, Progress


@dataclass
class RunDossier:
    result: TopKResult
    header: dict
    image_of: Callable[[int], np.ndarray]  # dataset index -> uint8 [H, W, 3]
    input_of: Callable[[int], torch.Tensor]  # dataset index -> the model's input [C, H, W]
    model: torch.nn.Module
    computed: bool  # True when it was computed now rather than read
    note: str = ""  # why the file was not read or not saved, when it was not


def run_checkpoint(run_dir: str | Path) -> Path:
    for which in ("best", "last"):
        if (path := RunLayout(run_dir).checkpoint(which)).exists():
            return path
    raise DossierFileError(f"{run_dir}: no {BEST} or {LAST}; train the run first (or open a run folder)")


def open_run_dossier(run_dir: str | Path, *, progress: Progress = NO_PROGRESS, device: str = "cpu") -> RunDossier:
    """The run's top images: read from RUN/dossier/topk.npz when it is there and readable, else computed now and
    saved there for next time. The run folder may be shared: the file is read by the safe readers
    (core.dossier.store), and the save never goes through a link (a refused or failed save, a read-only
    folder, only costs the next opening its speed: `note` says why)."""
    from core.checkpoints.checkpoint import load_checkpoint
    from core.dossier.ondemand import dossier_for_checkpoint
    from core.evaluate.source import eval_data

    ckpt = load_checkpoint(run_checkpoint(run_dir))
    path = topk_path(run_dir)
    computed, note = True, ""
    try:
        result, header = load_topk(path)
        data = eval_data(ckpt, None, header.get("split", "val"))
        computed = len(data.files) != result.images  # the data changed since: the indices no longer point right
    except DossierFileError as exc:
        note = "" if not os.path.lexists(path) else str(exc)
    if computed:
        run = dossier_for_checkpoint(ckpt, None, None, split="val", device=device, progress=progress)
        data = eval_data(ckpt, None, "val")
        header = {"files": run.files, "labels": run.labels, "split": "val", "computed_from": str(run_checkpoint(run_dir))}
        try:
            save_topk(run.result, path, run.files, run.labels, {"split": "val", "computed_from": header["computed_from"]},
                      inside=run_dir)
        except OSError as exc:
            note = f"not saved in the run folder ({describe_failure(exc) or exc})"
        result = run.result
    pre = ckpt.preprocess
    return RunDossier(result, header, lambda i: display_image(data.dataset, i, pre.mean, pre.std),
                      lambda i: data.dataset[i][0], ckpt.build_model(), computed, note)


def channel_map(model: torch.nn.Module, x: torch.Tensor, layer: str, channel: int) -> np.ndarray:
    """The channel's activation over the whole input, upsampled to the input size, scaled to 0..1
    (a linear unit: a constant map of its value's share of the layer's maximum)."""
    from core.inspect.activations import capture_activations

    act = capture_activations(model, x.unsqueeze(0) if x.dim() == 3 else x, [layer])[layer].float()
    h, w = x.shape[-2:]
    if act.dim() == 3:
        m = F.interpolate(act[channel][None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    else:
        m = torch.full((h, w), float(act[channel]))
    m = m.clamp(min=0)
    top = float(m.max())
    return (m / top).numpy() if top > 0 else m.numpy() * 0
