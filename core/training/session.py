"""Set up a training run from plain settings: the one path both the CLI and the GUI worker take.

prepare_trainer() builds the data, the model and the Trainer, resumes from a checkpoint when asked, and
writes the run directory's config.json; the caller then calls trainer.fit() on whatever thread it likes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from core import catalog
from core.training.callbacks import Callback
from core.checkpoints.checkpoint import CheckpointError, check_resumable, load_checkpoint
from core.data import DataSpec, build_data
from core.models import ModelSpec, build_model
from core.models.torchvision_models import data_spec_for_model
from core.runs.layout import RunLayout
from core.runs.lock import claim_run_folder
from core.runs.directory import RunDirectory
from core.training.rank_reporter import RankStatus
from core.training.recorder import RunRecorder
from core.training.run_control import ControlWatch
from core.training.live_snapshot import LiveSnapshot
from core.training.strategy import Strategy
from core.training.config import TrainConfig
from core.training.errors import TrainingError
from core.training.guards import guards
from core.training.runtime import seed_everything
from core.training.trainer import Trainer


@dataclass
class RunSettings:
    data: DataSpec = field(default_factory=DataSpec)
    model_name: str = catalog.DEFAULT_MODEL
    model_options: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return {"data": self.data.to_dict(), "model_name": self.model_name,
                "model_options": dict(self.model_options), "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "RunSettings":
        return cls(data=DataSpec.from_dict(d.get("data", {})), model_name=d.get("model_name", catalog.DEFAULT_MODEL),
                   model_options=dict(d.get("model_options") or {}),
                   train=TrainConfig.from_dict(d.get("train", {})))


def _resumes_in_place(resume: str | Path | None, run_dir: str | Path) -> bool:
    return resume is not None and Path(resume).expanduser().resolve().parent == Path(run_dir).expanduser().resolve()


def prepare_trainer(settings: RunSettings, run_dir: str | Path | None, *, resume: str | Path | None = None,
                    callbacks: Iterable[Callback] = (), record_sinks: Iterable = (), overwrite: bool = False,
                    strategy: Strategy | None = None) -> Trainer:
    """record_sinks: callables that get every run record after it is written (needs run_dir); settings.train
    may ask for more (tensorboard).
    overwrite: a new run may take a run folder that holds another run (its files are moved aside).
    strategy: how the run uses processes and devices (default: one process on settings.train.device). In a
    multi-process run only rank 0 owns the run folder (lock, config.json, metrics.jsonl, checkpoints); every
    rank writes its own RUN/ranks/rank-N.json."""
    checkpoint = load_checkpoint(resume) if resume else None
    if checkpoint is not None:
        settings = _resumed_settings(settings, checkpoint, resume)
    settings = replace(settings, data=data_spec_for_model(settings.data, settings.model_name, settings.model_options))
    data = build_data(settings.data)
    spec = ModelSpec(settings.model_name, data.num_classes, data.preprocess.channels, data.preprocess.image_size,
                     dict(settings.model_options))
    seed_everything(settings.train.seed)
    model = _model(spec, data, checkpoint, resume)
    main = strategy is None or strategy.is_main
    owns_folder = run_dir is not None and main
    lock, own_sinks = None, []
    try:
        if owns_folder:
            # Owned before anything is written: a second writer or a stale run in the folder is refused here.
            lock = claim_run_folder(run_dir, resuming_here=_resumes_in_place(resume, run_dir), overwrite=overwrite)
            own_sinks = _settings_sinks(settings.train, Path(run_dir))
        leading = _leading(run_dir, strategy, lock, [*record_sinks, *own_sinks]) if run_dir is not None else []
        trailing = _trailing(settings.train, run_dir, strategy) if owns_folder else []
        # The guards go first: a diverged report ends the fit before anything records its losses.
        installed = [*guards(settings.train), *leading, *callbacks, *trailing]
        trainer = Trainer(model, data, settings.train, spec, installed, strategy=strategy)
        if checkpoint is not None:
            _resume(trainer, checkpoint, resume)
        if owns_folder:
            # Written from the settings the model was built from, so config.json always matches the checkpoints.
            RunDirectory(run_dir).write_config({**settings.to_dict(), "classes": data.classes,
                                                "preprocess": data.preprocess.to_dict(), "model_spec": spec.to_dict()})
    except BaseException:
        for sink in own_sinks:
            sink.close()
        if lock is not None:
            lock.release()
        raise
    return trainer


def _check_stored_settings(saved: dict, checkpoint, epochs: int, resume) -> None:
    """A checkpoint's stored settings go through the catalogue's limits, as a settings file does (it may come
    from elsewhere: a num_workers of 500 or an image size of a million is refused here, not met by the OS)."""
    from core.settings_limits import run_settings_problems

    problems = run_settings_problems({"data": saved["data_spec"], "model_name": checkpoint.model_spec.name,
                                      "model_options": checkpoint.model_spec.options,
                                      "train": {**saved["config"], "epochs": epochs}})
    if problems:
        raise CheckpointError(f"{resume}: cannot resume, its stored settings are outside Layerscope's limits: "
                              + "; ".join(problems[:5]))


def _resumed_settings(settings: RunSettings, checkpoint, resume) -> RunSettings:
    """Resume trains the same model on the same data; only the epoch count may grow (and where and how it is
    recorded: the device, TensorBoard files)."""
    check_resumable(checkpoint, resume)
    saved = checkpoint.training_state
    try:
        _check_stored_settings(saved, checkpoint, settings.train.epochs, resume)
        return RunSettings(data=DataSpec.from_dict(saved["data_spec"]), model_name=checkpoint.model_spec.name,
                           model_options=checkpoint.model_spec.options,
                           train=TrainConfig.from_dict({**saved["config"], "epochs": settings.train.epochs,
                                                        "device": settings.train.device,
                                                        "tensorboard": settings.train.tensorboard}))
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{resume}: cannot resume, its data or training settings are damaged ({exc})") from None


def _model(spec: ModelSpec, data, checkpoint, resume):
    model = build_model(spec, load_weights=checkpoint is None)  # a resume has its weights already
    if checkpoint is None:
        return model
    if checkpoint.classes != data.classes:
        raise CheckpointError(f"{resume}: its classes {checkpoint.classes} differ from the dataset's {data.classes}")
    try:
        model.load_state_dict(checkpoint.model_state)
    except RuntimeError as exc:
        raise CheckpointError(f"{resume}: its weights do not fit the model it describes ({str(exc)[:200]})") from None
    return model


def _settings_sinks(train: TrainConfig, run_dir: Path) -> list:
    """The record sinks the settings ask for: TensorBoard files in RUN/tensorboard (closed when the run ends).
    Raises TensorBoardUnavailable without the tensorboard package."""
    if not train.tensorboard:
        return []
    from core.training.tensorboard import TensorBoardSink

    return [TensorBoardSink(RunLayout(run_dir).tensorboard, close_at_end=True)]


def _leading(run_dir: str | Path, strategy: Strategy | None, lock, record_sinks) -> list[Callback]:
    """Right after the guards: the recorder (the process that owns the run folder) and, in a multi-process run,
    this process's rank status."""
    leading: list[Callback] = []
    if lock is not None:
        leading.append(RunRecorder(RunDirectory(run_dir), sinks=record_sinks, lock=lock))
    if strategy is not None and strategy.distributed:
        leading.append(RankStatus(run_dir, strategy.rank, strategy.world_size))
    return leading


def _trailing(config: TrainConfig, run_dir: str | Path, strategy: Strategy | None) -> list[Callback]:
    """After the caller's callbacks, for the process that owns the run folder: the control file, the
    evaluation at the end, the dossier, the feature pictures and familiarity (the map's features per epoch, the
    banks at the end)."""
    trailing: list[Callback] = []
    if strategy is not None:  # a run in its own process(es) (the CLI, a job): steered by RUN/control.json
        live = LiveSnapshot(run_dir)  # a weights-only copy for the app's inspector, on request
        trailing += [ControlWatch(run_dir, on_snapshot=live.request), live]
    if config.evaluate_at_end:
        from core.evaluate.hook import EvaluateAtEnd

        trailing.append(EvaluateAtEnd(Path(run_dir)))
    from core.dossier.hookup import dossier_callbacks
    from core.familiarity.during_training import familiarity_callbacks
    from core.featurevis.during_training import featurevis_callbacks

    return trailing + dossier_callbacks(config, Path(run_dir)) + featurevis_callbacks(config, Path(run_dir)) \
        + familiarity_callbacks(config, Path(run_dir))


def _resume(trainer: Trainer, checkpoint, resume) -> None:
    try:
        trainer.load_training_state(checkpoint.training_state)
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
        raise CheckpointError(f"{resume}: cannot resume, its optimizer or history state is damaged "
                              f"({str(exc)[:200]})") from None
    if trainer.epoch >= trainer.config.epochs:
        raise TrainingError(f"{resume}: already trained {trainer.epoch} epochs; ask for more than that with --epochs")
