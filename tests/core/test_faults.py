"""Out of memory and a full disk are translated once, by kind, naming the setting or the file to fix; a
failed write never glues two metrics records together or leaves a temp file; files get the umask's mode."""
import errno
import os

import numpy as np
import pytest
import torch

from core.io import atomic as fileio
from core.checkpoints.checkpoint import checkpoint_from_model, save_checkpoint
from core.cli.main import main
from core.data.transforms import Preprocess
from core.errors import describe_failure, is_out_of_memory
from core.models import ModelSpec, build_model
from core.runs import records
from core.runs.directory import RunDirectory
from core.runs.history import LineageReader

TRAIN = ["train", "--shapes-count", "32", "--image-size", "16", "--epochs", "1", "--batch-size", "16",
         "--model", "mlp", "--hidden", "8", "--quiet"]


def tiny_checkpoint():
    spec = ModelSpec("mlp", 3, 3, 16, {"hidden": [8]})
    return checkpoint_from_model(build_model(spec), spec, ["a", "b", "c"], Preprocess(image_size=16))


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("exc", [
    RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 12000000000 bytes."),
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    MemoryError(),
    OSError(errno.ENOMEM, "Cannot allocate memory"),
])
def test_out_of_memory_is_recognised_by_kind_and_says_what_to_change(exc):
    assert is_out_of_memory(exc)
    message = describe_failure(exc)
    assert message.startswith("out of memory") and "batch size" in message and "image size" in message


def test_numpys_own_out_of_memory_error_is_recognised():
    try:
        np.empty(2**62, dtype=np.uint8)
    except (MemoryError, ValueError) as exc:  # numpy raises _ArrayMemoryError (a MemoryError) or "too big"
        if isinstance(exc, MemoryError):
            assert "numpy" in type(exc).__module__ and is_out_of_memory(exc)
            assert "Unable to allocate" in describe_failure(exc)
            return
    pytest.skip("numpy did not raise a MemoryError here")


def test_a_disk_problem_names_the_file_and_what_to_do(tmp_path):
    message = describe_failure(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "last.pt")))
    assert "disk is full" in message and str(tmp_path / "last.pt") in message and "free some space" in message
    assert "quota" in describe_failure(OSError(errno.EDQUOT, "Disk quota exceeded", "x"))
    assert describe_failure(ValueError("a bug")) is None


def test_a_checkpoint_save_on_a_full_disk_names_the_file_and_leaves_no_temp(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError) as err:
        save_checkpoint(tiny_checkpoint(), tmp_path / "last.pt")
    assert err.value.filename == str(tmp_path / "last.pt") and err.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_a_disk_that_fills_in_the_middle_of_torch_save_is_reported_as_full_not_as_a_torch_error(tmp_path, monkeypatch):
    real_fdopen = os.fdopen

    class FillsUp:
        def __init__(self, fh):
            self.fh, self.written = fh, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 600:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(fileio.os, "fdopen", lambda fd, mode: FillsUp(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as err:
        save_checkpoint(tiny_checkpoint(), tmp_path / "best.pt")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path / "best.pt")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_metrics_write_never_glues_records_together(tmp_path, monkeypatch):
    run = RunDirectory(tmp_path).create()
    run.append_records([records.make("step", step=1, loss=1.0)])
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data)[: len(data) // 2])  # the disk fills up half way through the line
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.os, "write", half_then_full)
    with pytest.raises(OSError) as err:
        run.append_records([records.make("step", step=2, loss=0.5)])
    assert err.value.filename == str(run.metrics)
    monkeypatch.setattr(fileio.os, "write", real_write)
    run.append_records([records.make("step", step=3, loss=0.25)])  # space again: the partial line is closed first
    reader = LineageReader(run.path)
    assert [r["step"] for r in reader] == [1, 3] and reader.garbage_lines == 1  # the half line, alone on its line
    assert run.metrics.read_text().endswith('"step":3,"loss":0.25}\n')


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_checkpoints_and_run_files_get_the_umasks_mode_not_0600(tmp_path, umask):
    old = os.umask(umask)
    try:
        save_checkpoint(tiny_checkpoint(), tmp_path / "last.pt")
        run = RunDirectory(tmp_path).create()
        run.write_config({"a": 1})
        run.append_records([records.make("heartbeat", state="running")])
    finally:
        os.umask(old)
    for name in ("last.pt", "config.json", "metrics.jsonl"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_out_of_memory_inside_a_training_step_exits_1_with_advice(tmp_path, monkeypatch, capsys):
    def no_memory(self, x):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 96000000000 bytes. "
                           "Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(torch.nn.Linear, "forward", no_memory)
    assert main([*TRAIN, "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "out of memory" in err and "batch size" in err and "Traceback" not in err


def test_a_full_disk_during_training_exits_1_naming_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch, "save", full_disk)
    assert main([*TRAIN, "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "disk is full" in err and str(tmp_path / "run" / "last.pt") in err and "Traceback" not in err
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]
