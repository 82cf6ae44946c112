"""Fine-tune with corrections: a new run that starts from a checkpoint's weights with a fresh optimizer and a
lower learning rate, on the dataset as it is now (label corrections are applied by the data layer)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core import catalog
from core.checkpoints.checkpoint import CheckpointError, load_checkpoint
from core.data import DataSpec
from core.training.session import RunSettings, prepare_trainer
from core.training.config import TrainConfig

LR_FACTOR = 0.1  # fine-tuning default: the original learning rate / 10
WEIGHT_OPTIONS = ("pretrained", "weights_path")  # the checkpoint's weights replace these


def finetune_settings(checkpoint_path: str | Path, *, epochs: int = 3, lr: float | None = None) -> RunSettings:
    """The settings of the checkpoint's run, with `epochs`, a lower lr and the checkpoint's normalisation
    (the weights were trained on inputs normalised that way)."""
    ckpt = load_checkpoint(checkpoint_path)
    saved = ckpt.training_state or {}
    if not saved.get("data_spec"):
        raise CheckpointError(f"{checkpoint_path}: this checkpoint does not say which data it was trained on, "
                              "so it cannot be fine-tuned on that data")
    config = TrainConfig.from_dict(saved.get("config") or {})
    data = DataSpec.from_dict(saved["data_spec"])
    data = replace(data, mean=tuple(ckpt.preprocess.mean), std=tuple(ckpt.preprocess.std),
                   image_size=ckpt.preprocess.image_size, channels=ckpt.preprocess.channels)
    options = {k: v for k, v in ckpt.model_spec.options.items() if k not in WEIGHT_OPTIONS}
    lower = max(config.lr * LR_FACTOR, catalog.LEARNING_RATE.minimum)  # still a learning rate the catalogue allows
    train = replace(config, epochs=epochs, lr=lr if lr is not None else lower)
    return RunSettings(data=data, model_name=ckpt.model_spec.name, model_options=options, train=train)


def prepare_finetune(checkpoint_path: str | Path, run_dir: str | Path | None, *, epochs: int = 3,
                     lr: float | None = None, callbacks=(), record_sinks=(), strategy=None, overwrite: bool = False):
    """A Trainer for the fine-tune run (call .fit() on any thread). Its config.json names the checkpoint.
    record_sinks, strategy, overwrite: as prepare_trainer's (`layerscope train --finetune-from` passes its own)."""
    settings = finetune_settings(checkpoint_path, epochs=epochs, lr=lr)
    ckpt = load_checkpoint(checkpoint_path)
    trainer = prepare_trainer(settings, run_dir, callbacks=callbacks, record_sinks=record_sinks, strategy=strategy,
                              overwrite=overwrite)
    if list(trainer.data.classes) != list(ckpt.classes):
        raise CheckpointError(f"{checkpoint_path}: its classes {ckpt.classes} differ from the dataset's now "
                              f"({trainer.data.classes}); fine-tuning needs the same classes")
    trainer.model.load_state_dict(ckpt.model_state)  # in place: the fresh optimizer holds these parameters
    if run_dir is not None:
        from core.runs.directory import RunDirectory
        from core.runs.index import read_json_object

        run = RunDirectory(run_dir)
        config = read_json_object(run.config)  # the one written just now, read as every config.json is
        run.write_config({**config, "finetuned_from": str(Path(checkpoint_path).resolve())})
    return trainer
