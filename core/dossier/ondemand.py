"""The dossier of any checkpoint over any folder (or its own data), on demand: one pass, then files."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.dossier.render import display_image, write_dossier
from core.dossier.store import save_topk
from core.dossier.topk import DEFAULT_K, TopKResult, compute_topk
from core.runs.layout import TOPK
from core.progress import NO_PROGRESS, Progress, share


@dataclass
class DossierRun:
    result: TopKResult
    files: list[str]
    labels: list[int]
    written: list[Path] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def dossier_for_checkpoint(checkpoint, dataset: str | Path | None, out: str | Path | None, *, split: str = "all",
                           k: int = DEFAULT_K, device: str = "cpu", batch_size: int = 128,
                           progress: Progress = NO_PROGRESS) -> DossierRun:
    """Top-K images per channel of a checkpoint over a dataset; with `out`, the PNG grids, JSON files and
    topk.npz are written there. On `progress`: reading a folder's images (the first tenth), the pass (up to
    nine tenths), writing (the rest); a cancel stops it (core.errors.Cancelled)."""
    from core.checkpoints.checkpoint import Checkpoint, load_checkpoint
    from core.evaluate.source import eval_data

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    data = eval_data(ckpt, dataset, split, share(progress, 0.0, 0.1))
    model = ckpt.build_model()
    pre = ckpt.preprocess

    result = compute_topk(model, data.dataset, k=k, classes=list(ckpt.classes), batch_size=batch_size,
                          input_shape=(pre.channels, pre.image_size, pre.image_size), device=device,
                          progress=share(progress, 0.1, 0.9))
    run = DossierRun(result, list(data.files), list(data.labels), unreadable=list(data.unreadable))
    if out is not None:
        run.written = write_dossier(result, lambda i: display_image(data.dataset, i, pre.mean, pre.std),
                                    data.files, data.labels, out,
                                    progress=share(progress, 0.9, 1.0))
        run.written.append(save_topk(result, Path(out) / TOPK, data.files, data.labels,
                                     {"source": data.source}))
    return run
