"""Self-describing checkpoints: a checkpoint alone rebuilds its model and preprocesses inputs like it.

A checkpoint is data, never code: it holds only tensors, numbers, strings, lists and dicts, is loaded with
`torch.load(..., weights_only=True)`, and is written atomically (temp file in the same folder, then rename)
so a crash mid-write never leaves a half-written file under the real name.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from core.data.transforms import Preprocess
from core.models import ModelSpec, build_model

FORMAT = "layerscope-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(Exception):
    """A checkpoint file cannot be used; the message names the file and the reason."""


@dataclass
class Checkpoint:
    model_spec: ModelSpec
    classes: list[str]
    preprocess: Preprocess
    model_state: dict
    training_state: dict | None = None  # optimizer, scheduler, epoch, step, rng, config, data spec
    metrics: dict = field(default_factory=dict)  # the last epoch's metrics, for display

    def build_model(self) -> nn.Module:
        """The model with these weights, in eval mode, on the CPU."""
        model = build_model(self.model_spec, load_weights=False)  # the weights are in the checkpoint
        missing, unexpected = model.load_state_dict(self.model_state, strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"the weights do not fit model '{self.model_spec.name}' "
                f"(missing {len(missing)} tensors, {len(unexpected)} unexpected)")
        return model.eval()

    @property
    def epoch(self) -> int:
        return int((self.training_state or {}).get("epoch", 0))

    def to_payload(self) -> dict:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "model_spec": self.model_spec.to_dict(), "classes": list(self.classes),
            "preprocess": self.preprocess.to_dict(), "model_state": self.model_state,
            "training_state": self.training_state, "metrics": self.metrics,
        }


def checkpoint_from_trainer(trainer) -> Checkpoint:
    state = {k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()}
    return Checkpoint(
        model_spec=trainer.model_spec, classes=list(trainer.data.classes), preprocess=trainer.data.preprocess,
        model_state=state, training_state=trainer.training_state(),
        metrics=trainer.history[-1].to_dict() if trainer.history else {},
    )


def checkpoint_from_model(model: nn.Module, spec: ModelSpec, classes, preprocess: Preprocess,
                          metrics: dict | None = None) -> Checkpoint:
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return Checkpoint(spec, list(classes), preprocess, state, None, metrics or {})


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(checkpoint.to_payload(), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: the file does not exist")
    if path.is_dir():
        raise CheckpointError(f"{path}: this is a folder; pick a .pt checkpoint file (for example last.pt or best.pt)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes); it was probably cut off while being written")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError, OSError,
            AttributeError, KeyError, TypeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: not a readable Layerscope checkpoint ({first[:200]}). It may be corrupt, truncated, or "
            "contain code rather than data (only weights-only checkpoints are loaded)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = ""
        if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            hint = " It looks like a bare state dict; use it as a local weights file for a torchvision model instead."
        raise CheckpointError(f"{path}: this is not a Layerscope checkpoint (no model description inside).{hint}")
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer Layerscope (format {payload['format_version']}); update Layerscope")
    try:
        return Checkpoint(
            model_spec=ModelSpec.from_dict(payload["model_spec"]), classes=[str(c) for c in payload["classes"]],
            preprocess=Preprocess.from_dict(payload["preprocess"]), model_state=payload["model_state"],
            training_state=payload.get("training_state"), metrics=payload.get("metrics") or {},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the checkpoint is missing a field or has a wrong one ({exc})") from None
