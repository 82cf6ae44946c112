"""The maps of a run folder for the app's Map tab: one aligned map per epoch the run kept
(RUN/familiarity/epoch-N.npz, `--embed-every`), else one map of best.pt's images (a feature pass, kept)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.datamap.project import MapError, project
from core.datamap.replay import EpochMap, replay_run
from core.datamap.selection import run_dataset
from core.familiarity.errors import BankError
from core.familiarity.store import epoch_feature_files, load_features
from core.progress import NO_PROGRESS, Progress, share
from core.runs.layout import BEST, RunLayout


@dataclass
class RunMaps:
    run_dir: Path
    classes: list[str]
    maps: list[EpochMap]  # epoch order; one map with epoch -1 for best.pt's pass
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # damaged epoch files, with the reason
    dataset: Path | None = None  # the image folder it trained on (its corrections file), None: built-in data


def run_maps(run_dir: str | os.PathLike, method: str = "pca", *, progress: Progress = NO_PROGRESS) -> RunMaps:
    run_dir = Path(run_dir)
    files = epoch_feature_files(run_dir)
    classes: list[str] = []
    for _epoch, path in files:
        try:
            classes = load_features(path)[1]
            break
        except BankError:
            continue
    if classes:
        maps, skipped = replay_run(run_dir, method, progress=progress)
        return RunMaps(run_dir, classes, maps, skipped, run_dataset(run_dir))
    best = RunLayout(run_dir).best_checkpoint
    if not best.is_file():
        raise MapError(f"{run_dir} has neither kept features (train with --embed-every) nor a {BEST} to map")
    from core.familiarity.jobs import checkpoint_features

    features, loaded = checkpoint_features(best, progress=share(progress, 0.0, 0.7))
    projection = project(features.features, method, progress=share(progress, 0.7, 1.0))
    return RunMaps(run_dir, list(loaded.checkpoint.classes), [EpochMap(-1, features, projection)],
                   [(path, "damaged") for _e, path in files], run_dataset(run_dir))
