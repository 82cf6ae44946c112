"""Which dossier callbacks a run gets, from its TrainConfig (one place, for the CLI and the GUI alike)."""
from __future__ import annotations

from pathlib import Path

from core.training.callbacks import Callback


def dossier_callbacks(config, run_dir: str | Path) -> list[Callback]:
    callbacks: list[Callback] = []
    if getattr(config, "dossier_topk", False):
        from core.dossier.during_training import TopKDuringValidation

        callbacks.append(TopKDuringValidation(run_dir))
    if getattr(config, "layer_health_every", 0):
        from core.dossier.health import LayerHealth

        callbacks.append(LayerHealth(run_dir, every=config.layer_health_every))
    if getattr(config, "probe_images", None):
        from core.dossier.probes import ProbeTimeline

        callbacks.append(ProbeTimeline(run_dir, config.probe_images))
    return callbacks
