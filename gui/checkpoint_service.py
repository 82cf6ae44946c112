"""Opening and saving checkpoints, off the GUI thread.

torch.load of a big model, or torch.save + fsync, takes long enough to freeze the window, so both run on
BackgroundTasks; the results come back as signals and the ModelHub is updated on the GUI thread. A file
opened before torch has loaded (given on the command line, dropped on a starting window) is remembered and
opened once `set_engine_ready()` is called.

    service = CheckpointService(hub, parent)
    service.open(path)                     # -> hub.set_checkpoint(ckpt, OpenedFromFile(path)), opened(path)
    service.save(path, run_dir)            # -> saved(path)
    failed(title, text)                    # either went wrong: a message for a dialog (also logged)
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from core.runs import layout
from gui.concurrent import BackgroundTask
from gui.model_hub import ModelHub, OpenedFromFile, saved_by_the_run

CHECKPOINT_SUFFIXES = (".pt", ".pth")
_IMPORTS = ("core.checkpoints.checkpoint",)


@dataclass
class _Outcome:
    path: str
    checkpoint: object = None  # the Checkpoint opened (open only)
    error: str | None = None  # a reason for the user


class CheckpointService(QObject):
    opened = Signal(str)  # the path; the hub has the checkpoint already
    saved = Signal(str)  # the path written
    failed = Signal(str, str)  # dialog title, text
    message = Signal(str, str)  # (level, text) for the log

    def __init__(self, hub: ModelHub, parent: QObject | None = None):
        super().__init__(parent)
        self.hub = hub
        self._engine_ready = False
        self._pending: str | None = None
        # Opening: the latest request wins (two quick drops open the second). Saving: every save is reported.
        self._open_task = BackgroundTask(self, imports=_IMPORTS)
        self._open_task.finished.connect(self._on_opened)
        self._open_task.failed.connect(lambda text: self._fail("Could not open checkpoint", text))
        self._save_task = BackgroundTask(self, imports=_IMPORTS)
        self._save_task.finished.connect(self._on_saved)
        self._save_task.failed.connect(lambda text: self._fail("Could not save checkpoint", text))

    def set_engine_ready(self, ready: bool = True) -> None:
        self._engine_ready = ready
        if ready and self._pending:
            path, self._pending = self._pending, None
            self.open(path)

    def busy(self) -> bool:
        return self._open_task.busy or self._save_task.busy

    # ---- open ----------------------------------------------------------------------------------------
    def open(self, path: str | Path) -> None:
        path = str(path)
        if not self._engine_ready:
            self._pending = path
            return
        self._open_task.submit(lambda _context: _load(path))

    @Slot(object)
    def _on_opened(self, outcome: _Outcome) -> None:
        if outcome.error is not None:
            self._fail("Could not open checkpoint", outcome.error)
            return
        ckpt = outcome.checkpoint
        self.hub.set_checkpoint(ckpt, OpenedFromFile(outcome.path))
        classes = ", ".join(ckpt.classes[:8]) + ("…" if len(ckpt.classes) > 8 else "")
        self.message.emit("info", f"Opened checkpoint {outcome.path}: {ckpt.model_spec.name}, "
                                  f"{len(ckpt.classes)} classes ({classes})")
        self.opened.emit(outcome.path)

    # ---- save ----------------------------------------------------------------------------------------
    def save(self, path: str | Path, run_dir: Path | None = None) -> None:
        """Write the current model: the run's last.pt when the hub holds the run's model (it keeps the
        training state, so the copy can be resumed), else the hub's checkpoint."""
        path = str(path)
        last = layout.RunLayout(run_dir).last_checkpoint if run_dir is not None else None
        copy_last = (saved_by_the_run(self.hub.provenance()) and last is not None and not self.hub.is_training()
                     and last.exists())
        checkpoint = self.hub.current()
        if not copy_last and checkpoint is None:
            self._fail("Could not save checkpoint",
                       f"{path}: there is no model yet: train one or open a checkpoint first")
            return
        self._save_task.add(lambda _context: _write(path, last if copy_last else None, checkpoint))

    @Slot(object)
    def _on_saved(self, outcome: _Outcome) -> None:
        if outcome.error is not None:
            self._fail("Could not save checkpoint", f"{outcome.path}: {outcome.error}")
            return
        self.message.emit("info", f"Saved checkpoint to {outcome.path}")
        self.saved.emit(outcome.path)

    # ---- shared --------------------------------------------------------------------------------------
    def _fail(self, title: str, text: str) -> None:
        self.message.emit("error", f"{title}: {text}")
        self.failed.emit(title, text)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Wait for a save in progress (closing the window must not cut a file in half)."""
        saved = self._save_task.wait(timeout_ms)
        return self._open_task.shutdown(timeout_ms) and saved


# ---- on the worker thread --------------------------------------------------------------------------
def _load(path: str) -> _Outcome:
    from core.checkpoints import checkpoint as checkpoints  # the module, so tests can wrap its functions

    try:
        return _Outcome(path, checkpoint=checkpoints.load_checkpoint(path))
    except checkpoints.CheckpointError as exc:
        return _Outcome(path, error=str(exc))


def _write(path: str, copy_from: Path | None, checkpoint) -> _Outcome:
    from core.checkpoints import checkpoint as checkpoints

    try:
        if copy_from is not None:
            shutil.copyfile(copy_from, path)
        else:
            checkpoints.save_checkpoint(checkpoint, path)
    except OSError as exc:
        return _Outcome(path, error=str(exc))
    return _Outcome(path)
