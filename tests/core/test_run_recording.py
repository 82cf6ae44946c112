"""What a run writes and how it is followed: exact mid-epoch resume, heartbeat while paused, early stopping,
periodic checkpoints, a real CLI subprocess followed to its end, and a killed writer noticed."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.runs import records
from core.training.callbacks import Callback, EpochMetrics
from core.checkpoints.checkpoint import load_checkpoint
from core.data import DataSpec
from core.data.transforms import Augmentation
from core.training.guards import early_stop_decision
from core.runs.follower import RunFollower
from core.training.session import RunSettings, prepare_trainer
from core.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def settings(epochs=2, **train):
    # flip augmentation and the cnn's dropout both draw from the torch RNG: an exact resume must restore it
    data = DataSpec(train_count=48, val_count=20, image_size=16, seed=3, augmentation=Augmentation(horizontal_flip=True))
    config = TrainConfig(epochs=epochs, batch_size=8, report_interval_s=0.0, device="cpu", heartbeat_s=0.05, **train)
    return RunSettings(data=data, model_name="cnn", model_options={"channels": 4}, train=config)


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, run, report):
        if report.step >= self.step:
            run.stop()


def read(run_dir):
    follower = RunFollower(run_dir)
    got = follower.poll()
    assert follower.garbage_lines == 0
    return got


def step_losses(run_dir):
    return {r["step"]: r["loss"] for r in read(run_dir) if r.kind == "step"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = tmp_path_factory.mktemp("whole")
    prepare_trainer(settings(), run).fit()
    return run


@pytest.mark.parametrize("stop_step", [4, 6, 9])  # mid-epoch 1, at the end of epoch 1's batches, mid-epoch 2
def test_stop_mid_epoch_and_resume_gives_the_uninterrupted_losses(tmp_path, uninterrupted, stop_step):
    expected = step_losses(uninterrupted)
    assert sorted(expected) == list(range(1, 13))

    first = prepare_trainer(settings(), tmp_path / "cut", callbacks=[StopAt(stop_step)])
    assert first.fit()["stopped"]
    position = load_checkpoint(tmp_path / "cut" / "last.pt").training_state["position"]
    assert position["step"] == stop_step and position["batch"] == (stop_step - 1) % 6 + 1
    second = prepare_trainer(settings(), tmp_path / "cut", resume=tmp_path / "cut" / "last.pt")
    assert not second.fit()["stopped"]

    got = step_losses(tmp_path / "cut")
    assert sorted(got) == sorted(expected), "every step exactly once, none replayed"
    for step, loss in expected.items():
        assert got[step] == pytest.approx(loss, abs=1e-6), f"step {step}"
    epochs_whole = [r for r in read(uninterrupted) if r.kind == "epoch"]
    epochs_cut = [r for r in read(tmp_path / "cut") if r.kind == "epoch"]
    assert [r["train_loss"] for r in epochs_cut] == pytest.approx([r["train_loss"] for r in epochs_whole], abs=1e-6)
    kinds = [r.kind for r in read(tmp_path / "cut") if r.kind != "heartbeat"]
    assert "stopped" in kinds and kinds[kinds.index("stopped") + 1] == "resume"


def test_heartbeat_goes_on_while_paused_and_the_follower_says_paused(tmp_path):
    paused_at_step = threading.Event()

    class PauseAt2(Callback):
        def on_batch_end(self, run, report):
            if report.step == 2 and not paused_at_step.is_set():
                run.pause()
                paused_at_step.set()

    trainer = prepare_trainer(settings(epochs=1), tmp_path / "run", callbacks=[PauseAt2()])
    thread = threading.Thread(target=trainer.fit)
    thread.start()
    try:
        follower = RunFollower(tmp_path / "run")
        beats = []
        deadline = time.monotonic() + 60
        while len([b for b in beats if b.get("state") == "paused"]) < 2 and time.monotonic() < deadline:
            beats += [r for r in follower.poll() if r.kind == "heartbeat"]
            time.sleep(0.02)
        assert follower.status() == "paused"
        assert [b["step"] for b in beats if b.get("state") == "paused"][:2] == [2, 2]
    finally:
        trainer.resume()
        thread.join()
    follower.poll()
    assert follower.status() == "finished"
    kinds = [r.kind for r in read(tmp_path / "run")]
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("end")


def test_early_stopping_on_a_flat_validation_metric_is_recorded(tmp_path):
    trainer = prepare_trainer(settings(epochs=5, lr=1e-8, early_stop_patience=1, early_stop_metric="val_acc"),
                              tmp_path / "run")
    summary = trainer.fit()
    assert summary["epoch"] == 2 and summary["early_stop"]["best_epoch"] == 1
    got = [r for r in read(tmp_path / "run") if r.kind in ("early_stop", "end")]
    assert [r.kind for r in got] == ["early_stop", "end"]
    assert got[0]["metric"] == "val_acc" and got[0]["patience"] == 1 and got[0]["epoch"] == 2


def _history(values, metric):
    return [EpochMetrics(epoch=i + 1, step=i, train_loss=1, train_acc=0, lr=0.1, images_per_sec=1, duration_s=1,
                         **{"val_loss": 1.0, "val_acc": 0.5, metric: v}) for i, v in enumerate(values)]


def test_early_stop_decision_counts_patience_from_the_best_epoch():
    assert early_stop_decision(_history([1.0, 0.9, 0.95], "val_loss"), "val_loss", 2) is None
    decision = early_stop_decision(_history([1.0, 0.9, 0.95, 0.91], "val_loss"), "val_loss", 2)
    assert decision == {"epoch": 4, "metric": "val_loss", "patience": 2, "best": 0.9, "best_epoch": 2}
    assert early_stop_decision(_history([0.5, 0.7, 0.6], "val_acc"), "val_acc", 1)["best_epoch"] == 2
    assert early_stop_decision(_history([float("nan")] * 5, "val_loss"), "val_loss", 1) is None
    assert early_stop_decision(_history([1.0, 2.0, 3.0], "val_loss"), "val_loss", 0) is None  # off


def test_periodic_checkpoint_is_written_mid_epoch_with_its_position(tmp_path):
    trainer = prepare_trainer(settings(epochs=1, checkpoint_every_min=1e-9), tmp_path / "run",
                              callbacks=[StopAt(3)])
    trainer.fit()
    saved = [r for r in read(tmp_path / "run") if r.kind == "checkpoint"]
    assert saved and saved[0]["reason"] == "periodic" and saved[0]["step"] == 1
    assert not list((tmp_path / "run").glob("*.tmp")), "atomic: no temp file left behind"


def test_config_json_is_versioned(tmp_path):
    prepare_trainer(settings(epochs=1), tmp_path / "run")
    import json
    assert json.loads((tmp_path / "run" / "config.json").read_text())["version"] == records.CONFIG_VERSION


# ---- a real CLI process ---------------------------------------------------------------------------------
def cli(out, *extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "core.cli", "train", "--shapes-count", "48", "--image-size", "16",
                             "--batch-size", "8", "--option", "channels=4", "--device", "cpu", "--quiet",
                             "--heartbeat-s", "0.2", "--out", str(out), *extra],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.timeout(300)
def test_cli_run_followed_live_ends_with_exactly_the_records_written(tmp_path):
    out = tmp_path / "run"
    proc = cli(out, "--epochs", "2")
    follower = RunFollower(out / "metrics.jsonl")
    got, statuses = [], set()
    while proc.poll() is None:
        got += follower.poll()
        if got:
            statuses.add(follower.status())
        time.sleep(0.02)
    assert proc.returncode == 0, proc.stderr.read().decode()
    got += follower.poll()
    written = [records.decode(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert got == written and follower.garbage_lines == 0
    assert [r["step"] for r in got if r.kind == "step"] == list(range(1, 13))
    assert [r["epoch"] for r in got if r.kind == "epoch"] == [1, 2]
    assert follower.status() == "finished" and statuses <= {"running", "evaluating", "finished"}


@pytest.mark.timeout(300)
def test_killed_writer_is_reported_not_responding(tmp_path):
    out = tmp_path / "run"
    proc = cli(out, "--epochs", "200")
    follower = RunFollower(out / "metrics.jsonl")
    try:
        deadline = time.monotonic() + 120
        while not any(r.kind == "step" for r in follower.poll()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert follower.status() in ("running", "evaluating")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 30
    while follower.status() != "not responding" and time.monotonic() < deadline:
        follower.poll()
        time.sleep(0.05)
    assert follower.status() == "not responding"
    assert follower.last_final is None


def test_fit_again_on_the_same_trainer_goes_on_mid_epoch(tmp_path, uninterrupted):
    trainer = prepare_trainer(settings(), tmp_path / "run", callbacks=[StopAt(4)])
    trainer.fit()
    trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, StopAt)]
    trainer.fit()  # a stop ends one fit: fit() again goes on
    got, expected = step_losses(tmp_path / "run"), step_losses(uninterrupted)
    assert sorted(got) == sorted(expected)
    assert all(got[s] == pytest.approx(v, abs=1e-6) for s, v in expected.items())


def test_divergence_is_recorded_as_diverged_and_other_errors_as_failed(tmp_path):
    from types import SimpleNamespace

    from core.runs.directory import RunDirectory
    from core.training.recorder import RunRecorder
    from core.training.errors import DivergedError, TrainingError

    for name, error, status in [("a", DivergedError("loss nan at step 7"), "diverged"),
                                ("b", TrainingError("out of memory"), "failed")]:
        RunRecorder(RunDirectory(tmp_path / name).create()).on_error(SimpleNamespace(step=7), error)  # a RunView's step
        follower = RunFollower(tmp_path / name / "metrics.jsonl")
        (record,) = follower.poll()
        assert record["step"] == 7 and record["message"] == str(error)
        assert follower.status() == status
