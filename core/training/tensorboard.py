"""TensorBoard event files from run records, during a run (a record sink) or afterwards (export_run).

Written with torch.utils.tensorboard: it ships with PyTorch, which Layerscope depends on already, and is kept
by the PyTorch team; it needs only the `tensorboard` package (the `tensorboard` extra), whose own reader the
tests use. tensorboardX would add a second writer library for the same files.

Tags: train/loss, train/lr, train/images_per_sec by optimizer step; epoch/train_loss, epoch/train_acc,
epoch/val_loss, epoch/val_acc, epoch/lr by epoch number (1-based). Nulls (NaN in the run) are skipped.
"""
from __future__ import annotations

from pathlib import Path

from core.runs.follower import RunFollower
from core.runs.records import FINAL_KINDS

STEP_TAGS = {"loss": "train/loss", "lr": "train/lr", "images_per_sec": "train/images_per_sec"}
EPOCH_TAGS = {"train_loss": "epoch/train_loss", "train_acc": "epoch/train_acc", "val_loss": "epoch/val_loss",
              "val_acc": "epoch/val_acc", "lr": "epoch/lr"}
DEFAULT_SUBDIR = "tensorboard"


class TensorBoardUnavailable(RuntimeError):
    """The tensorboard package is missing."""


def _summary_writer(log_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TensorBoardUnavailable(
            "TensorBoard export needs the tensorboard package: pip install 'layerscope[tensorboard]' "
            "(or pip install tensorboard)") from None
    return SummaryWriter(log_dir=str(log_dir))


class TensorBoardSink:
    """A record sink (callable) that writes scalars to one TensorBoard log folder. close_at_end: close the writer
    at the run's final record (a live run's sink, which nobody else closes); else flush it there."""

    def __init__(self, log_dir: str | Path, close_at_end: bool = False):
        self.log_dir = Path(log_dir)
        self.close_at_end = close_at_end
        self.writer = _summary_writer(self.log_dir)
        self.scalars = 0

    def _add(self, tag: str, value, step) -> None:
        if value is None or step is None:
            return
        self.writer.add_scalar(tag, float(value), int(step), walltime=None)
        self.scalars += 1

    def __call__(self, record: dict) -> None:
        kind = record.get("kind")
        if kind == "step":
            for field, tag in STEP_TAGS.items():
                self._add(tag, record.get(field), record.get("step"))
        elif kind == "epoch":
            for field, tag in EPOCH_TAGS.items():
                self._add(tag, record.get(field), record.get("epoch"))
        elif kind in FINAL_KINDS:
            if self.close_at_end:
                self.close()
            else:
                self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def export_run(run_dir: str | Path, out_dir: str | Path | None = None) -> tuple[Path, int, int]:
    """Convert RUN/metrics.jsonl into TensorBoard files under out_dir (default RUN/tensorboard).

    Returns (log folder, scalars written, garbage lines skipped). Raises FileNotFoundError for a folder
    without metrics.jsonl."""
    run_dir = Path(run_dir)
    metrics = run_dir / "metrics.jsonl" if run_dir.is_dir() else run_dir
    if not metrics.is_file():
        raise FileNotFoundError(f"{run_dir}: no metrics.jsonl here; is this a run folder?")
    log_dir = Path(out_dir) if out_dir else metrics.parent / DEFAULT_SUBDIR
    follower = RunFollower(metrics)
    sink = TensorBoardSink(log_dir)
    try:
        while True:
            before = follower.offset
            batch = follower.poll()
            for record in batch:
                sink(record)
            if follower.offset == before:  # all read (or the file cannot be read any more)
                break
    finally:
        sink.close()
    return log_dir, sink.scalars, follower.garbage_lines
