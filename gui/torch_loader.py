"""Loads the heavy part (torch, torchvision, core) off the GUI thread, after the window is on screen.

`import torch` takes seconds; doing it in a plain Python thread keeps the window painting meanwhile. The
loader only imports and reads plain values (the model names, the form defaults); everything is then used
from the GUI thread once `loaded` arrives.
"""
from __future__ import annotations

import gc
import threading
import time
import traceback

from PySide6.QtCore import QObject, Signal


class EngineLoader(QObject):
    loaded = Signal(dict)  # {"model_names": [...], "defaults": {...}, "seconds": float}
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._load, name="layerscope-engine-loader", daemon=True)
            self._thread.start()

    def load_now(self) -> dict:
        """Load on the calling thread (tests, and callers that need the engine at once)."""
        return _import_engine()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _load(self) -> None:
        try:
            result = _import_engine()
        except Exception as exc:  # a broken install: say so in the window, do not crash
            self.failed.emit(f"{exc}\n\n{traceback.format_exc()}")
        else:
            self.loaded.emit(result)


def _import_engine() -> dict:
    started = time.perf_counter()
    import torch  # noqa: F401  (the slow one)

    import gui.training.controller  # noqa: F401  (core.session, core.trainer, core.data ...)
    from core.models import MODEL_NAMES
    from gui.training.form import default_form_values

    # The ~350k objects these imports create live as long as the process. Keep them out of the cyclic GC's
    # full passes: each pass over them held the GIL ~0.4 s, freezing the window while a dataset loaded
    # (benchmarks/data_view_responsiveness.py).
    gc.freeze()
    return {"model_names": list(MODEL_NAMES), "defaults": default_form_values(),
            "seconds": time.perf_counter() - started}
