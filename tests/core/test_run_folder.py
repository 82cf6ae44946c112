"""A run folder has one owner: a second writer is refused, a new run never mixes with an old one, best.pt
comes from this run's own lineage, and a resume never repeats epochs with steps going backwards."""
import json
import os
import socket

import pytest
import torch

from core.checkpoints.checkpoint import load_checkpoint
from core.cli.main import main
from core.data import DataSpec
from core.runs.lock import RunFolderError, RunLock, claim_run_folder
from core.runs import records
from core.runs.directory import RunDirectory
from core.runs.history import LineageReader, fold
from core.training.recorder import RunRecorder
from core.training.session import RunSettings, prepare_trainer
from core.training.config import TrainConfig

TINY = dict(data=DataSpec(train_count=32, val_count=16, image_size=16, seed=1), model_name="mlp",
            model_options={"hidden": [8]})


def tiny(epochs=1, **kw):
    return RunSettings(train=TrainConfig(epochs=epochs, batch_size=16, schedule="none"), **{**TINY, **kw})


def test_a_second_writer_is_refused_with_the_folder_and_the_other_pid(tmp_path):
    first = claim_run_folder(tmp_path / "run", resuming_here=False)
    with pytest.raises(RunFolderError) as err:
        claim_run_folder(tmp_path / "run", resuming_here=False)
    message = str(err.value)
    assert str(tmp_path / "run") in message and f"pid {os.getpid()} on {socket.gethostname()}" in message
    first.release()
    claim_run_folder(tmp_path / "run", resuming_here=False).release()  # free again once released


def test_a_stale_lock_file_from_a_dead_process_does_not_block(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".lock").write_text(json.dumps({"pid": 999999, "host": "gone"}))  # no flock held on it
    lock = claim_run_folder(folder, resuming_here=False)
    assert lock.held
    lock.release()


def test_temp_files_of_interrupted_saves_are_removed_on_the_next_start(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".last.pt.k2j3h4.tmp").write_bytes(b"half a checkpoint")
    (folder / ".config.json.x1.tmp").write_text("{")
    (folder / "notes.txt").write_text("mine")
    claim_run_folder(folder, resuming_here=False).release()
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "notes.txt"]


def test_a_new_run_into_a_used_folder_is_refused_and_overwrite_moves_the_old_run_aside(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--shapes-count", "32", "--image-size", "16", "--epochs", "1", "--batch-size", "16",
            "--out", str(out), "--quiet"]
    assert main([*args, "--model", "mlp", "--hidden", "8"]) == 0
    old_metrics = (out / "metrics.jsonl").read_text()
    capsys.readouterr()

    assert main([*args, "--model", "cnn", "--option", "channels=4", "--option", "blocks=1"]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--overwrite" in err and "Traceback" not in err
    assert json.loads((out / "config.json").read_text())["model_name"] == "mlp"  # untouched

    assert main([*args, "--model", "cnn", "--option", "channels=4", "--option", "blocks=1", "--overwrite"]) == 0
    previous = [p for p in out.iterdir() if p.name.startswith("previous-")]
    assert len(previous) == 1
    assert {"config.json", "metrics.jsonl", "last.pt", "best.pt"} <= {p.name for p in previous[0].iterdir()}
    assert (previous[0] / "metrics.jsonl").read_text() == old_metrics  # moved, never deleted
    # config.json and the checkpoints describe the same model.
    assert json.loads((out / "config.json").read_text())["model_name"] == "cnn"
    assert load_checkpoint(out / "last.pt").model_spec.name == "cnn"
    assert load_checkpoint(out / "best.pt").model_spec.name == "cnn"
    runs = {json.loads(line)["run"] for line in (out / "metrics.jsonl").read_text().splitlines()}
    assert len(runs) == 1  # only the new run's records


def test_best_so_far_comes_from_this_runs_records_only(tmp_path):
    run = RunDirectory(tmp_path / "run").create()
    # Another (or killed) run's record claims 99% accuracy; it must not stop this run from saving best.pt.
    run.append_records([records.make("epoch", epoch=1, step=2, val_loss=0.01, val_acc=0.99, run="someone-else")])
    recorder = RunRecorder(run)
    prepare_trainer(tiny(), None, callbacks=[recorder]).fit()
    assert run.best_checkpoint.exists()
    own = [r for r in LineageReader(run.path) if r.get("run") == recorder.run_id]
    assert {r["kind"] for r in own} >= {"start", "step", "epoch", "end"}


def test_a_resume_after_a_kill_never_repeats_epochs_or_goes_back_in_steps(tmp_path):
    out = tmp_path / "run"
    prepare_trainer(tiny(epochs=1), out).fit()
    run = RunDirectory(out)
    saved_step = load_checkpoint(out / "last.pt").training_state["step"]
    # Killed after writing epoch 2's records but before its last.pt: the file runs ahead of the checkpoint.
    run.append_records([records.make("step", step=saved_step + 1, epoch=2, loss=1.0),
                        records.make("epoch", epoch=2, step=saved_step + 2, val_loss=0.5, val_acc=0.5)])
    resumed = prepare_trainer(tiny(epochs=2), out, resume=out / "last.pt")
    resumed.fit()
    epochs = fold(out).epochs
    assert [r["epoch"] for r in epochs] == [1, 2] and epochs[1]["val_loss"] != 0.5  # the resumed run's epoch 2
    assert [r["step"] for r in epochs] == sorted(r["step"] for r in epochs)
    resume = [r for r in LineageReader(out) if r["kind"] == "resume"]
    assert len(resume) == 1 and resume[0]["step"] == saved_step and resume[0]["epoch"] == 1
    assert resumed.step > saved_step


def test_the_lock_is_released_when_the_run_ends(tmp_path):
    trainer = prepare_trainer(tiny(), tmp_path / "run")
    with pytest.raises(RunFolderError):
        RunLock(tmp_path / "run").acquire()  # held while the trainer exists and has not finished
    trainer.fit()
    RunLock(tmp_path / "run").acquire().release()
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["format"] == "layerscope-checkpoint"
