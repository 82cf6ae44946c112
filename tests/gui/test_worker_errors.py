"""The training worker is an edge: out of memory and a full disk reach the user as one actionable message."""
import errno

import pytest

from core.training.session import RunSettings
from gui.training import worker as worker_module
from gui.training.worker import TrainingWorker


@pytest.mark.parametrize("failure, expected", [
    (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 96000000000 bytes"),
     "batch size"),
    (OSError(errno.ENOSPC, "No space left on device", "/runs/x/last.pt"), "/runs/x/last.pt"),
])
def test_worker_reports_failures_by_kind(qtbot, monkeypatch, failure, expected):
    def fails(*args, **kwargs):
        raise failure

    monkeypatch.setattr(worker_module, "prepare_trainer", fails)
    worker = TrainingWorker(RunSettings(), None)
    with qtbot.waitSignal(worker.failed, timeout=5000) as failed:
        worker.run()  # on this thread: the worker's edge is run(), whatever thread calls it
    message, details = failed.args
    assert expected in message and "Traceback" in details
