"""Run a model over a dataset once: one inference-mode loop over the data layer's loader -> probabilities."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from core.checkpoints.checkpoint import Checkpoint, load_checkpoint
from core.data.bundle import make_loader
from core.evaluate.result import EvalResult, save_evaluation
from core.evaluate.source import EvalData, eval_data
from core.models.hooks import evaluating
from core.progress import NO_PROGRESS, Progress


def predict_probabilities(model: nn.Module, dataset, *, batch_size: int = 256, device: str | torch.device = "cpu",
                          progress: Progress = NO_PROGRESS, num_workers: int = 0) -> np.ndarray:
    """[N, K] softmax probabilities in dataset order. The model is put in eval mode and restored after."""
    device = torch.device(device)
    loader = make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers,
                         pin_memory=device.type == "cuda")
    chunks = []  # probabilities stay on the device until the end: one copy to the host, not one per batch
    done = 0
    with evaluating(model), torch.inference_mode():
        for inputs, _ in loader:
            progress.check_cancelled()
            logits = model(inputs.to(device, non_blocking=True))
            chunks.append(torch.softmax(logits.float(), dim=1))
            done += inputs.shape[0]
            progress.update(done, len(dataset), f"evaluating {done}/{len(dataset)} images")
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(chunks).cpu().numpy()


def evaluate_model(model: nn.Module, classes: list[str], data: EvalData, **kwargs) -> EvalResult:
    probs = predict_probabilities(model, data.dataset, **kwargs)
    return EvalResult(list(classes), list(data.files), np.asarray(data.labels, dtype=np.int64), probs,
                      data.source, unreadable=list(data.unreadable), notes=list(data.notes),
                      images=data.images)


def evaluate_checkpoint(checkpoint: Checkpoint | str | Path, dataset: str | Path | None = None,
                        split: str = "val", out: str | Path | None = None, *, device: str = "cpu",
                        batch_size: int = 256, progress: Progress = NO_PROGRESS) -> EvalResult:
    """A checkpoint on a dataset split -> EvalResult; with `out`, the files are written there too. `progress`
    runs twice: reading a folder's images, then evaluating them."""
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    data = eval_data(ckpt, dataset, split, progress)
    model = ckpt.build_model().to(device)
    result = evaluate_model(model, ckpt.classes, data, batch_size=batch_size, device=device,
                            progress=progress)
    result.checkpoint = str(checkpoint) if not isinstance(checkpoint, Checkpoint) else ""
    if out is not None:
        save_evaluation(result, out)
    return result
