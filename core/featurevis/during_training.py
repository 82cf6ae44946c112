"""First-layer pictures after every epoch of a run (TrainConfig.feature_pictures): the callback that
core.training.session installs through `featurevis_callbacks`.

It runs on the training thread between epochs, on a copy of the weights (epochs.visualize_epoch), so the
model that trains is never touched; a whole first layer of a small model takes a few seconds at most. A stop
asked meanwhile cancels the pictures, not the stop. Before the first epoch it keeps the pictures of the
weights the run starts from (epoch 0), so the slider starts at noise. A failure turns the pictures off with a
warning and never ends the run.
"""
from __future__ import annotations

from pathlib import Path

from core.errors import Cancelled
from core.featurevis.epochs import suits_epoch_mode, visualize_epoch
from core.progress import Reporter
from core.training.callbacks import Callback, EpochMetrics, FitStart, RunView


class FeaturePicturesEachEpoch(Callback):
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.on_warning = None  # optional callable(message): the CLI prints it (core/cli/train.py)
        self.error: str | None = None
        self.saved: list[int] = []

    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        pre = run.data.preprocess
        if not suits_epoch_mode(pre):
            self._turn_off(f"feature pictures each epoch: off for this run: its images are {pre.image_size} px "
                           "(they are for small models; the Dossier still makes pictures of any checkpoint on "
                           "demand)")
        elif start.start_epoch == 0:
            self._pictures(run, 0)

    def on_epoch_end(self, run: RunView, metrics: EpochMetrics) -> None:
        self._pictures(run, metrics.epoch)

    def _pictures(self, run: RunView, epoch: int) -> None:
        if self.error is not None:
            return
        try:
            visualize_epoch(run.model, run.data.preprocess, self.run_dir, epoch,
                            progress=Reporter(cancel=lambda: run.stop_requested))
        except Cancelled:
            return  # the run is stopping: these pictures are not worth the wait
        except Exception as exc:  # the pictures are a bonus: never end a run over them
            self._turn_off(f"feature pictures each epoch turned off: {exc}")
            return
        self.saved.append(epoch)

    def _turn_off(self, message: str) -> None:
        self.error = message
        if self.on_warning is not None:
            self.on_warning(message)


def featurevis_callbacks(config, run_dir: str | Path) -> list[Callback]:
    """What a run's TrainConfig asks of this package (one place, for the CLI and the app alike)."""
    return [FeaturePicturesEachEpoch(run_dir)] if getattr(config, "feature_pictures", False) else []
