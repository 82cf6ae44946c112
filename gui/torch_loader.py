"""Imports the heavy part (torch, torchvision, core) off the GUI thread, after the window is on screen.

`import torch` takes seconds; doing it on a BackgroundTask keeps the window painting meanwhile. The loader
only imports and reads plain values (the model names, the engine's defaults); everything is then used from
the GUI thread once `loaded` arrives.
"""
from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, Signal, Slot

from gui.concurrent import BackgroundTask


class TorchLoader(QObject):
    loaded = Signal(dict)  # {"model_names": [...], "defaults": {...}, "seconds": float}
    failed = Signal(str)  # the reason, then a blank line and the traceback

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._task = BackgroundTask(self, imports=())  # imports its own modules, timed
        self._task.finished.connect(self._on_finished)
        self._task.failed.connect(self._on_failed)
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._task.submit(lambda _context: import_torch_and_core())

    def load_now(self) -> dict:
        """Load on the calling thread (tests, and callers that need the engine at once)."""
        return import_torch_and_core()

    def wait(self, timeout_ms: int = -1) -> bool:
        return self._task.wait(timeout_ms)

    @Slot(object)
    def _on_finished(self, info: dict) -> None:
        self.loaded.emit(info)

    @Slot(str)
    def _on_failed(self, message: str) -> None:  # a broken install: say so in the window, do not crash
        self.failed.emit(f"{message}\n\n{self._task.last_error_details}")


def import_torch_and_core() -> dict:
    started = time.perf_counter()
    import torch  # noqa: F401  (the slow one)

    # What the training tab and the views import when they first run: core's whole engine (a shared GUI
    # module imports core only, never a tab package).
    import core.training.callbacks  # noqa: F401
    import core.checkpoints.checkpoint  # noqa: F401
    import core.training.session  # noqa: F401  (core.training.trainer, core.data, core.models ...)
    from core.models import MODEL_NAMES

    defaults = engine_defaults()
    # The ~350k objects these imports create live as long as the process. Keep them out of the cyclic GC's
    # full passes: each pass over them held the GIL ~0.4 s, freezing the window while a dataset loaded
    # (benchmarks/data_view_responsiveness.py).
    gc.freeze()
    return {"model_names": list(MODEL_NAMES), "defaults": defaults, "seconds": time.perf_counter() - started}


def engine_defaults() -> dict:
    """The run form's defaults, from core.catalog (torch-free; the loader imports no widget module)."""
    from core import catalog

    values = {s.key: s.default for s in catalog.TRAIN_SETTINGS}
    return {"dataset": catalog.DEFAULT_DATASET, "train_count": catalog.SHAPES_TRAIN_COUNT.default,
            "model": catalog.DEFAULT_MODEL, **{key: values[key] for key in (
                "epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule", "seed", "device")}}
