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
from core.runs.lock import claim_run_folder
from core.runs.directory import RunDirectory
from core.training.rank_reporter import RankStatus
from core.training.recorder import RunRecorder
from core.training.run_control import ControlWatch
from core.training.strategy import Strategy
from core.training.trainer import TrainConfig, Trainer, TrainingError, seed_everything


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
    """record_sinks: callables that get every run record after it is written (needs run_dir).
    overwrite: a new run may take a run folder that holds another run (its files are moved aside).
    strategy: how the run uses processes and devices (default: one process on settings.train.device). In a
    multi-process run only rank 0 owns the run folder (lock, config.json, metrics.jsonl, checkpoints); every
    rank writes its own RUN/ranks/rank-N.json."""
    callbacks = list(callbacks)
    checkpoint = load_checkpoint(resume) if resume else None
    if checkpoint is not None:
        check_resumable(checkpoint, resume)
        # Resume trains the same model on the same data; only the epoch count may grow.
        saved = checkpoint.training_state
        epochs = settings.train.epochs
        try:
            _check_stored_settings(saved, checkpoint, epochs, resume)
            settings = RunSettings(data=DataSpec.from_dict(saved["data_spec"]), model_name=checkpoint.model_spec.name,
                                   model_options=checkpoint.model_spec.options,
                                   train=TrainConfig.from_dict({**saved["config"], "epochs": epochs,
                                                                "device": settings.train.device}))
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{resume}: cannot resume, its data or training settings are damaged ({exc})") from None
    settings = replace(settings, data=data_spec_for_model(settings.data, settings.model_name, settings.model_options))
    data = build_data(settings.data)
    spec = ModelSpec(settings.model_name, data.num_classes, data.preprocess.channels, data.preprocess.image_size,
                     dict(settings.model_options))
    seed_everything(settings.train.seed)
    model = build_model(spec, load_weights=checkpoint is None)  # a resume has its weights already
    if checkpoint is not None:
        if checkpoint.classes != data.classes:
            raise CheckpointError(f"{resume}: its classes {checkpoint.classes} differ from the dataset's {data.classes}")
        try:
            model.load_state_dict(checkpoint.model_state)
        except RuntimeError as exc:
            raise CheckpointError(f"{resume}: its weights do not fit the model it describes ({str(exc)[:200]})") from None
    lock = None
    main = strategy is None or strategy.is_main
    if run_dir is not None and strategy is not None and strategy.distributed:
        callbacks.insert(0, RankStatus(run_dir, strategy.rank, strategy.world_size))
    try:
        if run_dir is not None and main:
            # Owned before anything is written: a second writer or a stale run in the folder is refused here.
            lock = claim_run_folder(run_dir, resuming_here=_resumes_in_place(resume, run_dir), overwrite=overwrite)
            callbacks.insert(0, RunRecorder(RunDirectory(run_dir), sinks=record_sinks, lock=lock))
            if strategy is not None:  # a run in its own process(es) (the CLI, a job): paused by RUN/control.json
                callbacks.append(ControlWatch(run_dir))
            if settings.train.evaluate_at_end:
                from core.evaluate.hook import EvaluateAtEnd

                callbacks.append(EvaluateAtEnd(Path(run_dir)))
            from core.dossier.hookup import dossier_callbacks

            callbacks += dossier_callbacks(settings.train, Path(run_dir))
        trainer = Trainer(model, data, settings.train, spec, callbacks, strategy=strategy)
        if checkpoint is not None:
            try:
                trainer.load_training_state(checkpoint.training_state)
            except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
                raise CheckpointError(f"{resume}: cannot resume, its optimizer or history state is damaged "
                                      f"({str(exc)[:200]})") from None
            if trainer.epoch >= settings.train.epochs:
                raise TrainingError(f"{resume}: already trained {trainer.epoch} epochs; ask for more than that with --epochs")
        if run_dir is not None and main:
            # Written from the settings the model was built from, so config.json always matches the checkpoints.
            RunDirectory(run_dir).write_config({**settings.to_dict(), "classes": data.classes,
                                                "preprocess": data.preprocess.to_dict(), "model_spec": spec.to_dict()})
    except BaseException:
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
