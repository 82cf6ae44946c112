"""Evaluate a run's validation set when training ends (TrainConfig.evaluate_at_end): files in RUN/eval/."""
from __future__ import annotations

from pathlib import Path

from core.runs.layout import RunLayout
from core.training.callbacks import Callback, FitSummary, RunView


def evaluate_run_at_end(trainer, run_dir: str | Path) -> Path | None:
    """`trainer`: a Trainer or a callback's RunView. Evaluate its model (the best checkpoint's weights when the run saved one) on its validation
    set into RUN/eval/. Returns the folder, or None when there is nothing to evaluate."""
    from core.checkpoints.checkpoint import checkpoint_from_trainer, load_checkpoint
    from core.evaluate.result import save_evaluation
    from core.evaluate.run import evaluate_model
    from core.evaluate.source import EvalData

    run = RunLayout(run_dir)
    val = trainer.data.val
    if len(val) == 0:
        return None
    best = run.best_checkpoint
    ckpt = load_checkpoint(best) if best.exists() else checkpoint_from_trainer(trainer)
    model = ckpt.build_model().to(trainer.device)
    labels = [int(v) for v in getattr(val, "labels", [y for _, y in val])]
    files = _val_files(trainer, len(labels))
    data = EvalData(val, files, labels, f"{trainer.data.spec.name} (val)", images=_memory_images(val, files))
    result = evaluate_model(model, ckpt.classes, data, batch_size=max(64, trainer.config.batch_size * 2),
                            device=trainer.device)
    result.checkpoint = str(best) if best.exists() else "end of training"
    out = run.eval_dir()
    save_evaluation(result, out, inside=run_dir)  # eval/ planted as a link is refused, never written through
    return out


def _memory_images(val, files: list[str]):
    """The in-memory set's stored pictures, so RUN/eval/images/ shows them (core/evaluate/images.py)."""
    from core.evaluate.images import MemoryImages, is_memory_id

    stored = getattr(val, "images", None)
    if stored is None or not files or not is_memory_id(files[0]):
        return None
    return MemoryImages({files[0].split("/", 1)[0]: stored})


def _val_files(trainer, n: int) -> list[str]:
    """File paths of the validation images when the data came from a folder, else stable names."""
    spec = trainer.data.spec
    if spec.is_folder:
        from core.data.folder import scan_folder_splits

        excluded = {f for f, _ in trainer.data.excluded}
        found = scan_folder_splits(Path(spec.name), spec.val_fraction, spec.seed)
        paths = [str(p) for p, _ in found.val if str(p) not in excluded]
        if len(paths) == n:
            return paths
    return [f"{spec.name}:val/{i:05d}" for i in range(n)]


class EvaluateAtEnd(Callback):
    """Calls evaluate_run_at_end after a completed fit; a failure is reported, never raised into training."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.folder: Path | None = None
        self.error: str | None = None
        self.on_warning = None  # optional callable(message): the CLI prints why the evaluation failed

    def on_fit_end(self, run: RunView, summary: FitSummary) -> None:
        try:
            self.folder = evaluate_run_at_end(run, self.run_dir)
        except Exception as exc:  # the run itself succeeded; the evaluation is a bonus
            from core.errors import describe_failure

            self.error = f"end-of-run evaluation failed: {describe_failure(exc) or exc}"
            if self.on_warning is not None:
                self.on_warning(self.error)
