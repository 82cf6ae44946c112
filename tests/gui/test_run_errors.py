"""A run's failures are translated where they happen, in the run's own process (core.errors, by the run's
recorder or the CLI), and reach the user of the window as that one actionable message: out of memory says what
to change, a full disk names the file."""
import errno
import subprocess
import sys
import time

import pytest
from PySide6.QtWidgets import QMessageBox

from core.data import DataSpec
from core.processes.job import TrainJob
from core.training.session import RunSettings, prepare_trainer
from core.training.config import TrainConfig
from core.training.recorder import RunRecorder


@pytest.mark.parametrize("failure, expected", [
    (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 96000000000 bytes"),
     "batch size"),
    (OSError(errno.ENOSPC, "No space left on device", "/runs/x/last.pt"), "/runs/x/last.pt"),
])
def test_a_failure_in_the_runs_process_reaches_the_user_as_its_message(qtbot, window, tmp_path, failure, expected):
    run = tmp_path / "run"
    settings = RunSettings(data=DataSpec(train_count=16, val_count=8, image_size=12), model_name="mlp",
                           model_options={"hidden": [4]}, train=TrainConfig(epochs=1, batch_size=8, device="cpu"))
    trainer = prepare_trainer(settings, run)
    started = time.time()
    recorder = next(c for c in trainer.callbacks if isinstance(c, RunRecorder))
    recorder.on_error(trainer, failure)  # what the run's recorder writes when fit() fails: its "error" record
    # The run's process then exits 1, as `layerscope train` does after such a failure.
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    with qtbot.waitSignal(window.controller.runFailed, timeout=30_000) as failed:
        window.controller.watch(TrainJob(process, run), started_after=started - 1)
    assert expected in failed.args[0]
    box = window.last_message_box
    assert box.icon() == QMessageBox.Icon.Critical and expected in box.text()
    assert any(level == "error" and expected in text for level, text in window.log.lines)
    assert window.controller.state == "idle" and window.controller.last_exit == 1
