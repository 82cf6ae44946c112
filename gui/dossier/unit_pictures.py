"""The synthesised pictures the Channels view shows beside the real crops: made on demand for the run's
checkpoint, or, for the layer a run kept pictures of after every epoch, read back for the epoch a slider picks.

Making pictures is slow (hundreds of optimisation steps per batch of units) and runs on a BackgroundTask of its
own: progress, Cancel, and a layer picked meanwhile supersedes it (stopped within one step). For a layer of
more than FIRST_PICTURES units the first ones are made and shown first. Every picture lands in the run's cache
(RUN/featurevis/<weights checksum>/), so a layer opened again (in this session or the next) is drawn at once.
The GUI thread only holds the results.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from gui.concurrent import BackgroundTask

FIRST_PICTURES = 16  # made (and shown) before the rest of a wide layer


class UnitPictures(QObject):
    ready = Signal(str)  # a layer whose pictures (some or all) arrived; "" for the epoch pictures
    progress = Signal(int, int, str)
    failed = Signal(str)
    running = Signal(bool)  # True while pictures are being made (the view shows Cancel)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = None  # core.featurevis.optimize.VisSettings; None: its defaults (tests make it quicker)
        self.run_dir: str | None = None
        self.checkpoint: str | None = None
        self.epochs: list[int] = []  # epochs the run kept first-layer pictures of
        self.epoch_layer: str | None = None
        self.epoch_result = None  # VisResult of the epoch picked
        self.epoch: int | None = None
        self.notes: list[str] = []
        self._made: dict[str, object] = {}  # layer -> VisResult for the checkpoint
        self._asked: str | None = None
        self._task = BackgroundTask(self, imports=())
        self._task.finished.connect(self._on_made)
        self._task.partial.connect(self._on_made)
        self._task.failed.connect(self._on_failed)
        self._task.progress.connect(self.progress)
        self._task.cancelled.connect(lambda: self.running.emit(False))
        self._epoch_task = BackgroundTask(self, imports=())
        self._epoch_task.finished.connect(self._on_epoch)
        self._epoch_task.failed.connect(self.failed)

    # ---- the run ------------------------------------------------------------------------------------------
    def open_run(self, run_dir: str, checkpoint: str, epochs: list[int], epoch_layer: str | None) -> None:
        self.cancel()
        self._epoch_task.cancel()
        self.run_dir, self.checkpoint = run_dir, checkpoint
        self.epochs, self.epoch_layer = list(epochs), epoch_layer
        self._made.clear()
        self.epoch_result = self.epoch = None
        self.notes = []

    def is_epoch_layer(self, layer: str | None) -> bool:
        return bool(self.epochs) and layer is not None and layer == self.epoch_layer

    def pictures(self, layer: str):
        """The VisResult to draw for `layer` now (the slider's epoch for the epoch layer), or None."""
        return self.epoch_result if self.is_epoch_layer(layer) else self._made.get(layer)

    @property
    def busy(self) -> bool:
        return self._task.busy

    # ---- making them --------------------------------------------------------------------------------------
    def request(self, layer: str, units: int, classes: bool) -> None:
        """Pictures of `layer`'s units (or, `classes`, of the output classes) unless they are here or coming."""
        if self.is_epoch_layer(layer):
            if self.epoch_result is None and self.epoch is None:
                self.show_epoch(self.epochs[-1])
            return
        if self.checkpoint is None or layer in self._made and len(self._made[layer].pictures) == units:
            return
        if self._asked == layer and self._task.busy:
            return
        self._asked = layer
        checkpoint, cache, chosen = self.checkpoint, self._cache_root(), self.settings

        def job(ctx):
            from core.checkpoints.checkpoint import load_checkpoint
            from core.featurevis.optimize import VisSettings
            from core.featurevis.visualize import visualize_units
            from core.progress import share

            settings = chosen or VisSettings()

            def make(count: int, progress):
                wanted = list(range(count))
                return visualize_units(ckpt, None if classes else layer, None if classes else wanted,
                                       wanted if classes else None, cache_root=cache, settings=settings,
                                       progress=progress)

            ckpt = load_checkpoint(checkpoint)
            first = FIRST_PICTURES if units > 2 * FIRST_PICTURES else 0
            if first:
                ctx.deliver((layer, make(first, share(ctx, 0.0, first / units))))
            return layer, make(units, share(ctx, first / units, 1.0))
        self._task.submit(job)
        self.running.emit(True)

    def cancel(self) -> None:
        """Stop making pictures (within one optimisation step); those made so far stay."""
        self._asked = None
        self._task.cancel()

    def _cache_root(self) -> str:
        from core.runs.layout import RunLayout

        return str(RunLayout(self.run_dir).featurevis)

    def _on_made(self, result) -> None:
        layer, vis = result
        self._made[layer] = vis
        self.notes = list(vis.notes)
        if not self._task.busy:
            self.running.emit(False)
            self._asked = None
        self.ready.emit(layer)

    def _on_failed(self, message: str) -> None:
        self._asked = None
        self.running.emit(False)
        self.failed.emit(message)

    # ---- the epoch slider ---------------------------------------------------------------------------------
    def show_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        run_dir = self.run_dir

        def job(_ctx):
            from core.featurevis.epochs import load_epoch

            return epoch, load_epoch(run_dir, epoch)
        self._epoch_task.submit(job)

    def _on_epoch(self, result) -> None:
        epoch, vis = result
        if epoch != self.epoch:
            return
        self.epoch_result = vis
        self.ready.emit(self.epoch_layer or "")

    def shutdown(self) -> None:
        self._task.shutdown()
        self._epoch_task.shutdown()
