"""The maps of a run folder for the app's Map tab: one aligned map per epoch the run kept
(RUN/familiarity/epoch-N.npz, `--embed-every`), else one map of best.pt's images (a feature pass, kept)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.datamap.project import MapError, project
from core.datamap.issue_scores import run_issue_scores
from core.datamap.replay import EpochMap, replay_run
from core.datamap.selection import run_dataset
from core.familiarity.errors import BankError
from core.familiarity.store import epoch_feature_files, load_features
from core.errors import LayerscopeError
from core.progress import NO_PROGRESS, Progress, share
from core.runs.layout import BEST, RunLayout


@dataclass
class RunMaps:
    run_dir: Path
    classes: list[str]
    maps: list[EpochMap]  # epoch order; one map with epoch -1 for best.pt's pass
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # damaged epoch files, with the reason
    dataset: Path | None = None  # the image folder it trained on (its corrections file), None: built-in data
    familiarity: dict[str, float] | None = None  # image id -> score against best.pt's bank; None: no bank
    threshold: float = 0.0  # the score below which an image counts as unfamiliar
    issues: dict[str, float] | None = None  # label-issue scores by file key (RUN/eval/label_issues.csv), or None


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
        maps, skipped = replay_run(run_dir, method, progress=share(progress, 0.0, 0.8))
        result = RunMaps(run_dir, classes, maps, skipped, run_dataset(run_dir), issues=run_issue_scores(run_dir))
        _add_familiarity(result, share(progress, 0.8, 1.0))
        return result
    best = RunLayout(run_dir).best_checkpoint
    if not best.is_file():
        raise MapError(f"{run_dir} has neither kept features (train with --embed-every) nor a {BEST} to map")
    from core.familiarity.jobs import checkpoint_features

    features, loaded = checkpoint_features(best, progress=share(progress, 0.0, 0.7))
    projection = project(features.features, method, progress=share(progress, 0.7, 1.0))
    result = RunMaps(run_dir, list(loaded.checkpoint.classes), [EpochMap(-1, features, projection)],
                     [(path, "damaged") for _e, path in files], run_dataset(run_dir),
                     issues=run_issue_scores(run_dir))
    _add_familiarity(result)
    return result


def _add_familiarity(result: RunMaps, progress: Progress = NO_PROGRESS) -> None:
    """Each image's familiarity against best.pt's bank, when the run has one (its pass is kept in the run
    folder, so this is cheap after --familiarity); the map then offers it as a colour. Never fails the map."""
    from core.familiarity.jobs import bank_for_checkpoint, checkpoint_features
    from core.familiarity.scoring import familiarity_scores

    best = RunLayout(result.run_dir).best_checkpoint
    try:
        bank = bank_for_checkpoint(best) if best.is_file() else None
        if bank is None:
            return
        features, _loaded = checkpoint_features(best, progress=progress)
        scores = familiarity_scores(bank, features, ids=features.ids)
    except (LayerscopeError, OSError, ValueError):
        return  # a damaged or stale bank, data gone: the map without familiarity
    result.familiarity = {name: float(s) for name, s in zip(features.ids, scores)}
    result.threshold = float(bank.calibration.threshold)
