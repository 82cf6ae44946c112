"""A copy of the live weights on request (core.training.live_snapshot): asked through RUN/control.json (a run the
app only follows) or with SIGUSR1 (the app's own process), written as RUN/live.pt at a batch boundary, also
while paused."""
import os
import signal
import threading
import time

import torch

from core.checkpoints.checkpoint import load_checkpoint
from core.data import DataSpec
from core.runs import records
from core.runs.control import SNAPSHOT_FILE, SNAPSHOT_SIGNAL, SNAPSHOT_STEP, read_control, write_control
from core.training.callbacks import Callback
from core.training.live_snapshot import snapshots_on_signal
from core.training.session import RunSettings, prepare_trainer
from core.training.strategy import Strategy
from core.training.trainer import TrainConfig


def _settings(epochs=50, train_count=48):
    return RunSettings(data=DataSpec(train_count=train_count, val_count=16, image_size=12, seed=3), model_name="mlp",
                       model_options={"hidden": [8]},
                       train=TrainConfig(epochs=epochs, batch_size=8, device="cpu", heartbeat_s=0.05,
                                         report_interval_s=0.0))


def _records(run):
    path = run / "metrics.jsonl"
    return [records.decode(line) for line in path.read_text().splitlines()] if path.exists() else []


def _wait_for(predicate, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_a_snapshot_number_in_the_control_file_gets_a_weights_only_copy_while_running_and_while_paused(tmp_path):
    run = tmp_path / "run"
    trainer = prepare_trainer(_settings(), run, strategy=Strategy("cpu"))  # as the CLI does
    live = run / SNAPSHOT_FILE
    fit = threading.Thread(target=trainer.fit)
    fit.start()
    try:
        _wait_for(lambda: [r for r in _records(run) if r.kind == "step"])
        write_control(run, pause=None, snapshot=1)  # no opinion on pausing: the run goes on
        _wait_for(live.exists)
        first = load_checkpoint(live)
        assert first.training_state is None and first.metrics[SNAPSHOT_STEP] >= 1
        assert first.model_spec.name == "mlp" and first.classes == list(trainer.data.classes)
        assert not trainer.paused

        write_control(run, pause=True, snapshot=1)  # the same number again: nothing new is written
        paused = _wait_for(lambda: [r for r in _records(run) if r.kind == "paused"])[0]
        before = live.stat().st_mtime_ns
        write_control(run, pause=None, snapshot=2)  # asked while paused: answered from the pause loop
        _wait_for(lambda: live.stat().st_mtime_ns != before)
        copy = load_checkpoint(live)
        assert copy.metrics[SNAPSHOT_STEP] == paused["step"] == trainer.step and trainer.paused  # still paused
        state = trainer.model.state_dict()
        assert all(torch.equal(copy.model_state[k], state[k]) for k in state)  # the weights as they are now
        assert read_control(run)["pause"] is None
        trainer.stop()
        fit.join(timeout=60)
        assert not fit.is_alive()
    finally:
        trainer.stop()
        fit.join(timeout=60)
    assert _records(run)[-1].kind == "stopped" and not live.exists()  # the copy goes with the run


class _SignalAtStep(Callback):
    """Sends this process SIGUSR1 after step 2 (what the app does to its own run) and notes when live.pt came."""

    def __init__(self, live):
        self.live, self.answered_at = live, None

    def on_train_step(self, run):
        if run.step == 2:
            os.kill(os.getpid(), SNAPSHOT_SIGNAL)
        elif run.step > 2 and self.answered_at is None and self.live.exists():
            self.answered_at = run.step
            run.stop()


def test_sigusr1_asks_for_a_copy_at_the_next_batch_boundary(tmp_path):
    run = tmp_path / "run"
    trainer = prepare_trainer(_settings(), run, strategy=Strategy("cpu"))
    asker = _SignalAtStep(run / SNAPSHOT_FILE)
    trainer.callbacks.append(asker)
    previous = signal.signal(SNAPSHOT_SIGNAL, signal.SIG_DFL)  # as in a fresh process: the signal would end it
    try:
        with snapshots_on_signal(trainer):  # on the main thread, as the CLI runs its fit
            summary = trainer.fit()
        # After the fit a late request is ignored: the run's last word stays "stopped", not killed by SIGUSR1.
        assert signal.getsignal(SNAPSHOT_SIGNAL) == signal.SIG_IGN
        os.kill(os.getpid(), SNAPSHOT_SIGNAL)
    finally:
        signal.signal(SNAPSHOT_SIGNAL, previous)
    assert summary["stopped"] and asker.answered_at == 3  # written at the next batch boundary
    assert _records(run)[-1].kind == "stopped"
