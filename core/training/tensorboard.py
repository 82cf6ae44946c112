"""TensorBoard event files from run records, during a run (a record sink) or afterwards (export_run).

Written with torch.utils.tensorboard: it ships with PyTorch, which Layerscope depends on already, and is kept
by the PyTorch team; it needs only the `tensorboard` package (the `tensorboard` extra), whose own reader the
tests use. tensorboardX would add a second writer library for the same files.

Tags: train/loss, train/lr, train/images_per_sec by optimizer step; epoch/train_loss, epoch/train_acc,
epoch/val_loss, epoch/val_acc, epoch/lr by epoch number (1-based). Nulls (NaN in the run) are skipped. Each step shows once
in a resumed run too: export_run writes the run's current lineage (core.runs.reducer), and a live sink in a
resumed run asks TensorBoard to purge what the resumed run writes again (purge_step).
"""
from __future__ import annotations

import os
from pathlib import Path

from core.errors import LayerscopeError
from core.io.atomic import open_folder
from core.runs import layout
from core.progress import NO_PROGRESS, Progress
from core.runs.history import LineageReader
from core.runs.records import FINAL_KINDS
from core.runs.reducer import rewind_of

STEP_TAGS = {"loss": "train/loss", "lr": "train/lr", "images_per_sec": "train/images_per_sec"}
EPOCH_TAGS = {"train_loss": "epoch/train_loss", "train_acc": "epoch/train_acc", "val_loss": "epoch/val_loss",
              "val_acc": "epoch/val_acc", "lr": "epoch/lr"}


class TensorBoardUnavailable(LayerscopeError, RuntimeError):
    """The tensorboard package is missing."""


def _writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TensorBoardUnavailable(
            "TensorBoard export needs the tensorboard package: pip install 'layerscope[tensorboard]' "
            "(or pip install tensorboard)") from None
    return SummaryWriter


class TensorBoardSink:
    """A record sink (callable) that writes scalars to one TensorBoard log folder.

    The writer opens at the first record. When that is a "resume" (a resumed run, core.runs.reducer), it
    opens with purge_step after the resume's step: TensorBoard then hides the points the killed run wrote
    past its checkpoint, which this run writes again, so each step shows once. close_at_end: close the writer at
    the run's final record (a live run's sink, which nobody else closes); else flush it there."""

    def __init__(self, log_dir: str | Path, close_at_end: bool = False):
        self.log_dir = Path(log_dir)
        self._writer_class = _writer_class()  # raises TensorBoardUnavailable now, before the run starts
        self.writer = None
        self.close_at_end = close_at_end
        self.scalars = 0

    def _open(self, record: dict) -> None:
        # The event files go into a plain folder: RUN/tensorboard/ planted as a link is refused (LinkRefused
        # naming it), never written through. Opened (and made) without following a link.
        os.close(open_folder(self.log_dir.parent, (self.log_dir.name,)))
        rewind = rewind_of(record)
        self.writer = self._writer_class(log_dir=str(self.log_dir),
                                         purge_step=rewind.step + 1 if rewind is not None else None)

    def _add(self, tag: str, value, step) -> None:
        if value is None or step is None:
            return
        self.writer.add_scalar(tag, float(value), int(step), walltime=None)
        self.scalars += 1

    def __call__(self, record: dict) -> None:
        if self.writer is None:
            self._open(record)
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
        if self.writer is not None:
            self.writer.close()


def export_run(run_dir: str | Path, out_dir: str | Path | None = None,
               progress: Progress = NO_PROGRESS) -> tuple[Path, int, int]:
    """Convert RUN/metrics.jsonl into TensorBoard files under out_dir (default RUN/tensorboard): each step and
    each epoch once, from the run's current lineage (a resumed run's replayed steps are the resumed run's).
    `progress` hears the bytes read (a metrics file of hundreds of MB takes minutes).

    Returns (log folder, scalars written, garbage lines skipped). Raises FileNotFoundError for a folder
    without metrics.jsonl."""
    records = LineageReader(run_dir, progress)
    if not records.path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {layout.METRICS} here; is this a run folder?")
    log_dir = Path(out_dir) if out_dir else layout.RunLayout(records.path.parent).tensorboard
    sink = TensorBoardSink(log_dir)
    try:
        for record in records:
            sink(record)
    finally:
        sink.close()
    return log_dir, sink.scalars, records.garbage_lines
