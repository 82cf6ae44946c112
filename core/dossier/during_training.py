"""Keep the top images per channel up to date while a run trains: a TopKTracker rides along the trainer's
own validation pass (no extra pass over the data) and RUN/dossier/topk.npz is rewritten after each one."""
from __future__ import annotations

from pathlib import Path

import torch

from core.errors import describe_failure
from core.training.callbacks import Callback, RunView, Validation
from core.dossier.store import save_topk, topk_path
from core.dossier.topk import DEFAULT_K, TopKTracker


class TopKDuringValidation(Callback):
    """A failure here is recorded in `error` and turns the dossier off; it never stops training."""

    def __init__(self, run_dir: str | Path, k: int = DEFAULT_K):
        self.run_dir, self.k = Path(run_dir), int(k)
        self.tracker: TopKTracker | None = None
        self.fields = None  # receptive fields, measured once (they depend on the architecture only)
        self.files: list[str] | None = None
        self.error: str | None = None
        self.saved: Path | None = None
        self.on_warning = None  # optional callable(message): the CLI prints why the dossier was turned off

    def on_validation_start(self, run: RunView) -> None:
        if self.error is not None or len(run.data.val) == 0:
            return
        labels = getattr(run.data.val, "labels", None)
        all_labels = torch.as_tensor(labels).to(run.device) if labels is not None else None
        self.tracker = TopKTracker(self.k, len(run.data.classes), all_labels=all_labels).attach(run.model)

    def on_validation_end(self, run: RunView, result: Validation) -> None:
        tracker, self.tracker = self.tracker, None
        if tracker is None:
            return
        tracker.detach()
        try:
            if self.fields is None:
                from core.dossier.receptive import measure_receptive_fields

                pre = run.data.preprocess
                modules = dict(run.model.named_modules())
                self.fields = measure_receptive_fields(run.model, {n: modules[n] for n in tracker.layer_states},
                                                       (pre.channels, pre.image_size, pre.image_size))
            topk = tracker.result(self.fields, list(run.data.classes))
            if self.files is None:
                from core.evaluate.hook import _val_files

                self.files = _val_files(run, len(run.data.val))
            labels = getattr(run.data.val, "labels", None)
            self.saved = save_topk(topk, topk_path(self.run_dir), self.files,
                                   [int(v) for v in labels] if labels is not None else None,
                                   {"epoch": result.epoch, "step": run.step, "split": "val",
                                    "preprocess": run.data.preprocess.to_dict()}, inside=self.run_dir)
        except Exception as exc:  # the dossier is a bonus: never end a run over it
            self.error = f"top images per channel turned off: {describe_failure(exc) or exc}"
            if self.on_warning is not None:
                self.on_warning(self.error)

    def on_error(self, run: RunView, error: BaseException) -> None:
        if self.tracker is not None:
            self.tracker.detach()
            self.tracker = None
