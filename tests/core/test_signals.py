"""SIGINT and SIGTERM end a training run the same way: stop after the batch, save last.pt, exit 128 + signal,
one line and no traceback, even before the trainer exists; a second signal waits for a save in progress."""
import os
import signal
import subprocess
import sys

import pytest
import torch

from core.io import signals as interrupts
from core.checkpoints.checkpoint import checkpoint_from_model, load_checkpoint, save_checkpoint
from core.cli.main import main
from core.data.transforms import Preprocess
from core.models import ModelSpec, build_model
from tests.conftest import REPO

LONG_TINY_RUN = ["train", "--shapes-count", "64", "--image-size", "16", "--epochs", "10000", "--batch-size", "16",
                 "--model", "mlp", "--hidden", "8", "--quiet"]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_real_training_process_stops_saves_and_exits_128_plus_the_signal(tmp_path, sig, code):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", *LONG_TINY_RUN, "--out", str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        for line in proc.stdout:  # wait for its first progress line: the trainer is running
            if line.startswith("training on"):
                break
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert "stopped at epoch" in stdout and load_checkpoint(out / "last.pt").model_spec.name == "mlp"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_before_the_trainer_exists_exits_with_one_line(tmp_path, monkeypatch, capsys, sig, code):
    import core.training.session

    def signalled_while_preparing(*args, **kwargs):
        os.kill(os.getpid(), sig)
        raise AssertionError("the signal should have ended the command")

    monkeypatch.setattr(core.training.session, "prepare_trainer", signalled_while_preparing)
    assert main([*LONG_TINY_RUN, "--out", str(tmp_path / "run")]) == code
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "interrupted" in err and "Traceback" not in err


def test_a_second_signal_during_a_save_waits_until_the_file_is_complete(tmp_path):
    spec = ModelSpec("mlp", 3, 3, 16, {"hidden": [8]})
    checkpoint = checkpoint_from_model(build_model(spec), spec, ["a", "b", "c"], Preprocess(image_size=16))
    stopped = []
    real_save = torch.save

    def save_interrupted_midway(obj, fh):
        fh.write(b"")
        os.kill(os.getpid(), signal.SIGTERM)  # the second signal arrives while the file is being written
        real_save(obj, fh)

    with interrupts.SignalStop() as signals:
        signals.attach(lambda: stopped.append(True))
        os.kill(os.getpid(), signal.SIGTERM)  # the first one only asks to stop
        assert stopped == [True]
        torch.save = save_interrupted_midway
        try:
            with pytest.raises(interrupts.Interrupted) as err:
                save_checkpoint(checkpoint, tmp_path / "last.pt")
        finally:
            torch.save = real_save
    assert err.value.exit_code == 143
    assert load_checkpoint(tmp_path / "last.pt").classes == ["a", "b", "c"]  # complete, under its real name
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
