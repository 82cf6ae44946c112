"""Self-describing checkpoints: a checkpoint alone rebuilds its model and preprocesses inputs like it.

A checkpoint is data, never code: it holds only tensors, numbers, strings, lists and dicts, is loaded with
`torch.load(..., weights_only=True)`, and is written atomically (temp file in the same folder, then rename)
so a crash mid-write never leaves a half-written file under the real name.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from core.checkpoints import schema
from core.data.transforms import Preprocess
from core.errors import LayerscopeError
from core.io.atomic import atomic_write
from core.errors import loader_reason
from core.models import MODEL_NAMES, ModelError, ModelSpec, build_model
from core.runs.layout import BEST, LAST
from core.models.state import cpu_state_dict

FORMAT = "layerscope-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(LayerscopeError):
    """A checkpoint file cannot be used; the message names the file and the reason."""


@dataclass
class Checkpoint:
    model_spec: ModelSpec
    classes: list[str]
    preprocess: Preprocess
    model_state: dict
    training_state: dict | None = None  # optimizer, scheduler, epoch, step, rng, config, data spec
    metrics: dict = field(default_factory=dict)  # the last epoch's metrics, for display
    source: str | None = None  # the file it was loaded from, named in errors

    def build_model(self) -> nn.Module:
        """The model with these weights, in eval mode, on the CPU."""
        try:
            model = build_model(self.model_spec, load_weights=False)  # the weights are in the checkpoint
            missing, unexpected = model.load_state_dict(self.model_state, strict=False)
        except ModelError as exc:
            raise CheckpointError(f"{self._where}its model cannot be built: {exc}") from None
        except RuntimeError as exc:  # a tensor of the wrong shape: the weights are for another head or size
            first = str(exc).strip().splitlines()
            detail = next((line.strip() for line in first if "size mismatch" in line), first[0] if first else "")
            raise CheckpointError(f"{self._where}the weights do not fit model '{self.model_spec.name}' with "
                                  f"{self.model_spec.num_classes} classes ({detail[:200]})") from None
        if missing or unexpected:
            raise CheckpointError(
                f"{self._where}the weights do not fit model '{self.model_spec.name}' "
                f"(missing {len(missing)} tensors, {len(unexpected)} unexpected)")
        return model.eval()

    @property
    def _where(self) -> str:
        return f"{self.source}: " if self.source else ""

    @property
    def epoch(self) -> int:
        epoch = (self.training_state or {}).get("epoch", 0)
        return epoch if isinstance(epoch, int) else 0

    def to_payload(self) -> dict:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "model_spec": self.model_spec.to_dict(), "classes": list(self.classes),
            "preprocess": self.preprocess.to_dict(), "model_state": self.model_state,
            "training_state": self.training_state, "metrics": self.metrics,
            "weights_sha256": schema.weights_checksum(self.model_state),
        }


def checkpoint_from_trainer(trainer) -> Checkpoint:
    """The model and training state as they are now: `trainer` is a Trainer or the RunView a callback gets."""
    state = cpu_state_dict(trainer.model)
    return Checkpoint(
        model_spec=trainer.model_spec, classes=list(trainer.data.classes), preprocess=trainer.data.preprocess,
        model_state=state, training_state=trainer.training_state(),
        metrics=trainer.history[-1].to_dict() if trainer.history else {},
    )


def checkpoint_from_model(model: nn.Module, spec: ModelSpec, classes, preprocess: Preprocess,
                          metrics: dict | None = None) -> Checkpoint:
    state = cpu_state_dict(model)
    return Checkpoint(spec, list(classes), preprocess, state, None, metrics or {})


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> Path:
    """Atomically (temp + rename); a full disk raises an OSError naming `path` and leaves no temp file."""
    payload = checkpoint.to_payload()
    return atomic_write(path, lambda fh: torch.save(payload, fh))


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: the file does not exist")
    if path.is_dir():
        raise CheckpointError(f"{path}: this is a folder; pick a .pt checkpoint file (for example {LAST} or {BEST})")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes); it was probably cut off while being written")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise CheckpointError(f"{path}: not enough memory to load this checkpoint "
                              f"({path.stat().st_size / 2**20:,.0f} MiB)") from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError, OSError,
            AttributeError, KeyError, TypeError, IndexError) as exc:
        raise CheckpointError(
            f"{path}: not a readable Layerscope checkpoint ({loader_reason(exc)}). It may be corrupt, truncated, "
            "or contain code rather than data (only weights-only checkpoints are loaded)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = ""
        if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            hint = " It looks like a bare state dict; use it as a local weights file for a torchvision model instead."
        raise CheckpointError(f"{path}: this is not a Layerscope checkpoint (no model description inside).{hint}")
    return _checkpoint_from_payload(payload, path)


def _checkpoint_from_payload(payload: dict, path: Path) -> Checkpoint:
    """Every field checked for type and range before use, then the weights against their checksum."""
    try:
        schema.check_format_version(payload, FORMAT_VERSION)
        schema.check_model_spec(payload.get("model_spec"), MODEL_NAMES)
        spec = ModelSpec.from_dict(payload["model_spec"])
        schema.check_classes(payload.get("classes"), spec.num_classes)
        schema.check_preprocess(payload.get("preprocess"), payload["model_spec"])
        schema.check_model_state(payload.get("model_state"))
        if payload.get("training_state") is not None:
            schema.check_table(payload["training_state"], "training_state")
        metrics = payload.get("metrics") or {}
        schema.check_table(metrics, "metrics")
    except (schema.SchemaError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the checkpoint is damaged or was edited: {exc}") from None
    stored = payload.get("weights_sha256")
    if stored is not None and stored != schema.weights_checksum(payload["model_state"]):
        raise CheckpointError(f"{path}: damaged: checksum mismatch (the weights changed after the file was "
                              "written, e.g. a bad disk or an incomplete copy); use another checkpoint")
    return Checkpoint(
        model_spec=spec, classes=list(payload["classes"]), preprocess=Preprocess.from_dict(payload["preprocess"]),
        model_state=payload["model_state"], training_state=payload.get("training_state"), metrics=metrics,
        source=str(path))


def check_resumable(checkpoint: Checkpoint, path: str | os.PathLike) -> None:
    """The training state a resume needs is complete and well-formed."""
    if checkpoint.training_state is None:
        raise CheckpointError(f"{path}: this checkpoint holds weights only, no training state, so it cannot be resumed")
    try:
        schema.check_training_state(checkpoint.training_state)
    except schema.SchemaError as exc:
        raise CheckpointError(f"{path}: cannot resume from this checkpoint, it is damaged or was edited: {exc}") from None
