"""One look at a run (core.processes.watch.RunFolderWatch), the same for a followed folder and for a run this app
started: records, status and phase, settings, per-process statuses, the live snapshot, and for a started run
its exit, why it failed, and its last.pt at each epoch end and when it stops."""
import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from core.checkpoints.checkpoint import checkpoint_from_model, save_checkpoint
from core.data.transforms import Preprocess
from core.models import ModelSpec, build_model
from core.processes.job import JOB_LOG, TrainJob, failure_message
from core.processes.watch import NOT_WANTED, UNCHANGED, RunFolderWatch
from core.runs import records
from core.runs.control import SNAPSHOT_FILE, SNAPSHOT_STEP

# A stand-in for a run's process: it exits with the status given once the flag file appears.
EXIT_WHEN_TOLD = ("import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.02)\n"
                  "sys.exit(int(sys.argv[2]))")


def append(run, *batch):
    with (run / "metrics.jsonl").open("a") as fh:
        for record in batch:
            fh.write(records.encode(record) + "\n")


def save_weights(path, epoch, step, seed=0, snapshot_step=None):
    import torch

    torch.manual_seed(seed)
    spec = ModelSpec("mlp", 3, 3, 16, {"hidden": [8]})
    ckpt = checkpoint_from_model(build_model(spec), spec, ["a", "b", "c"], Preprocess(image_size=16))
    if snapshot_step is not None:
        ckpt.metrics = {SNAPSHOT_STEP: snapshot_step}
    else:
        ckpt = replace(ckpt, training_state={"epoch": epoch, "step": step})
    save_checkpoint(ckpt, path)


def stand_in(run, code):
    flag = run / "exit-now"
    process = subprocess.Popen([sys.executable, "-c", EXIT_WHEN_TOLD, str(flag), str(code)])
    return TrainJob(process, run), flag


def finish(watch, flag, timeout_s=30):
    flag.write_text("")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        look = watch.poll()
        if look.exit_code is not None:
            return look
        time.sleep(0.02)
    raise AssertionError("the stand-in did not exit")


def test_a_followed_folder_waits_then_runs_then_ends_and_its_settings_and_snapshot_are_read(tmp_path):
    run = tmp_path / "later"
    watch = RunFolderWatch(run)
    look = watch.poll()
    assert (look.status, look.phase, look.records, look.config) == ("waiting", "starting", [], UNCHANGED)  # none yet
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"version": 1, "train": {"epochs": 2}}))
    append(run, records.make("start", epochs=2, start_epoch=0, batches_per_epoch=2, total_steps=4),
           records.make("step", step=1, loss=1.0))
    look = watch.poll()
    assert [r.kind for r in look.records] == ["start", "step"] and look.phase == "running"
    assert look.config == {"version": 1, "train": {"epochs": 2}} and watch.poll().config is UNCHANGED
    assert not look.can_signal and look.weights is None  # no process: nothing to signal, no weights for the hub
    append(run, records.make("paused", step=1))
    assert watch.poll().phase == "paused"

    # A snapshot is loaded only when one is awaited and the file is not the one seen when it was asked.
    assert watch.poll(snapshot_since=None).snapshot is None  # none written yet
    save_weights(run / SNAPSHOT_FILE, 0, 0, snapshot_step=1)
    stamp = watch.poll().snapshot_stamp
    assert stamp is not None and watch.poll(snapshot_since=NOT_WANTED).snapshot is None
    assert watch.poll(snapshot_since=stamp).snapshot is None  # the same file as when asked
    checkpoint, step = watch.poll(snapshot_since=None).snapshot
    assert step == 1 and checkpoint.training_state is None and checkpoint.classes == ["a", "b", "c"]

    append(run, records.make("resumed", step=1), records.make("stopped", epoch=0, step=1))
    look = watch.poll()
    assert (look.status, look.phase, look.final["kind"], look.exit_code) == ("stopped", "ended", "stopped", None)


def test_a_started_runs_weights_come_from_last_pt_once_it_holds_the_epoch_that_ended_and_again_when_it_stops(
        tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    save_weights(run / "last.pt", epoch=3, step=30)  # an earlier run's, in the folder this one resumes in
    append(run, records.make("start", epochs=3, start_epoch=0, batches_per_epoch=10, total_steps=30, time=1.0),
           records.make("epoch", epoch=3, step=30, val_loss=0.5, val_acc=0.5, time=2.0),
           records.make("stopped", epoch=3, step=30, time=3.0))
    job, flag = stand_in(run, 130)
    try:
        watch = RunFolderWatch(run, job, started_after=10.0)
        look = watch.poll(now=11.0)
        # The earlier run's records are drawn, but they neither start this one nor end it nor ask for weights.
        assert len(look.records) == 3 and (look.phase, look.final, look.weights) == ("starting", None, None)
        append(run, records.make("resume", epoch=3, step=30, time=12.0),
               records.make("start", epochs=5, start_epoch=3, batches_per_epoch=10, total_steps=50, time=12.0))
        look = watch.poll()
        assert look.phase == "running" and look.can_signal  # its start record: its signal handlers are in place
        append(run, records.make("epoch", epoch=4, step=40, val_loss=0.4, val_acc=0.6, time=13.0))
        assert watch.poll().weights is None  # last.pt still holds epoch 3: written just after the epoch's record
        save_weights(run / "last.pt", epoch=4, step=40, seed=1)
        weights = watch.poll().weights
        assert (weights.epoch, weights.step, weights.final) == (4, 40, False)
        assert weights.checkpoint.training_state is None  # weights only, for the hub
        assert watch.poll().weights is None  # once per epoch
        append(run, records.make("stopped", epoch=4, step=43, time=14.0))
        save_weights(run / "last.pt", epoch=4, step=43, seed=2)
        look = finish(watch, flag)
    finally:
        job.process.kill()
        job.process.wait()
    assert (look.exit_code, look.phase, look.final["kind"], look.failure) == (130, "ended", "stopped", None)
    assert (look.weights.step, look.weights.final) == (43, True) and not look.can_signal


@pytest.mark.parametrize("said, record, expected", [
    ("layerscope train: /data/one-class: needs at least 2 classes\n", None, "/data/one-class: needs at least 2 classes"),
    ("", {"kind": "diverged", "step": 3, "message": "the loss became nan: lower the learning rate"},
     "the loss became nan: lower the learning rate"),
    ("Traceback (most recent call last):\n  ...\nSegmentation fault\n", None, "exited with status 1"),
])
def test_a_failed_process_says_why_from_its_error_record_or_its_last_word(tmp_path, said, record, expected):
    run = tmp_path / "run"
    run.mkdir()
    (run / JOB_LOG).write_text("run directory: x\n" + said)
    job, flag = stand_in(run, 1)
    try:
        watch = RunFolderWatch(run, job)
        if record is not None:
            append(run, records.make(**record))  # written by this process: after the watch began
        look = finish(watch, flag)
    finally:
        job.process.kill()
        job.process.wait()
    assert look.exit_code == 1 and expected in look.failure and look.weights is None
    assert look.failure == failure_message(run, 1, look.final)

