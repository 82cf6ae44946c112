"""The learning-rate finder: a range test on the current settings, the curve, a suggested band, and its files.

    result, files = run_lr_find(settings, out_dir)          # `layerscope lr-find [training options] --out DIR`
    result.band.low, result.band.high                        # the suggested band (result.band.valley: one point)
    result.curve.lrs, .losses, .trend                        # one point per step

`find_lr(model, optimizer, batches, device=...)` runs the same test on objects someone already has (a model
being fine-tuned); they are restored exactly afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.progress import NO_PROGRESS, Progress
from core.tuning.lr.range_test import END_LR, START_LR, STEPS, LRCurve, check_range, range_test
from core.tuning.lr.suggest import Band, suggest_band, trend

__all__ = ["Band", "LRCurve", "LRFindResult", "find_lr", "run_lr_find", "END_LR", "START_LR", "STEPS"]


@dataclass
class LRFindResult:
    curve: LRCurve
    band: Band
    settings_summary: dict = field(default_factory=dict)  # model, optimizer, batch size, dataset: for the JSON


def find_lr(model, optimizer, batches, *, device, speed=None, start_lr: float = START_LR, end_lr: float = END_LR,
            steps: int = STEPS, progress: Progress = NO_PROGRESS) -> LRFindResult:
    curve = range_test(model, optimizer, batches, device=device, speed=speed, start_lr=start_lr, end_lr=end_lr,
                       steps=steps, progress=progress)
    curve.trend = [float(v) for v in trend(curve.lrs, curve.losses)]
    return LRFindResult(curve, suggest_band(curve.lrs, curve.losses))


def run_lr_find(settings, out_dir: str | Path | None = None, *, start_lr: float = START_LR, end_lr: float = END_LR,
                steps: int = STEPS, progress: Progress = NO_PROGRESS) -> tuple[LRFindResult, dict[str, Path]]:
    """A range test with `settings` (a core.training.session.RunSettings): its data, model and optimizer.
    Writes the range test's files (core.runs.layout: LR_FIND_CSV, _JSON, _PNG) into `out_dir` when given; returns
    (result, {kind: path}). progress: told as a folder dataset is read, then after each step."""
    from core.tuning.lr.files import write_files
    from core.tuning.lr.setup import build_setup

    check_range(start_lr, end_lr, steps)  # before the data is built: a bad range fails at once
    setup = build_setup(settings, progress)
    batches = setup.batches()
    try:
        result = find_lr(setup.model, setup.optimizer, batches, device=setup.device, speed=setup.speed,
                         start_lr=start_lr, end_lr=end_lr, steps=steps, progress=progress)
    finally:
        batches.close()  # ends the loader in progress (and its worker processes) now, not at garbage collection
    cfg = settings.train
    result.settings_summary = {"model": settings.model_name, "optimizer": cfg.optimizer,
                               "batch_size": cfg.batch_size, "weight_decay": cfg.weight_decay,
                               "dataset": settings.data.name, "seed": cfg.seed, "device": str(setup.device)}
    files = write_files(result, out_dir) if out_dir is not None else {}
    return result, files
