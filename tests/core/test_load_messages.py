"""Messages never advise unsafe loading (torch's "weights_only=False", numpy's "allow_pickle="), and running out
of memory while reading a file names the file, not the batch size."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
import torch

from core.checkpoints.checkpoint import CheckpointError, load_checkpoint
from core.errors import describe_failure
from core.errors import loader_reason
from core.models.torchvision_models import WeightsError, load_weights_file
from tests.core.hostile_files import small_png, sparse_file
from tests.support.isolation import run_under_memory_limit

pytestmark = pytest.mark.timeout(180)
UNSAFE = ("weights_only", "allow_pickle", "Re-running", "can still be loaded")


class RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def assert_no_unsafe_advice(text: str) -> None:
    assert not any(word in text for word in UNSAFE), text


def test_a_checkpoint_holding_code_is_refused_without_the_advice_to_load_it_unsafely(tmp_path):
    path = tmp_path / "crafted.pt"
    torch.save({"format": "layerscope-checkpoint", "x": RunsCode()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_no_unsafe_advice(str(info.value))
    assert "Python objects (posix.getcwd)" in str(info.value) and str(path) in str(info.value)
    path = tmp_path / "weights.pt"
    torch.save({"w": RunsCode()}, path)
    with pytest.raises(WeightsError) as info:
        load_weights_file(path)
    assert_no_unsafe_advice(str(info.value))


def test_numpys_and_torchs_raw_refusals_are_translated_at_the_edge():
    buffer = io.BytesIO()
    np.save(buffer, np.array([1, {}], dtype=object))
    buffer.seek(0)
    with pytest.raises(ValueError) as numpy_refusal:
        np.load(buffer)
    buffer = io.BytesIO()
    torch.save({"x": RunsCode()}, buffer)
    buffer.seek(0)
    with pytest.raises(Exception) as torch_refusal:
        torch.load(buffer, weights_only=True)
    for exc in (numpy_refusal.value, torch_refusal.value):
        assert any(word in str(exc) for word in UNSAFE)  # what the libraries say ...
        assert_no_unsafe_advice(loader_reason(exc))  # ... and what the user reads
        assert_no_unsafe_advice(describe_failure(exc))


def test_the_cli_never_passes_the_advice_on(tmp_path, capsys):
    from core.cli.main import main

    path = tmp_path / "crafted.pt"
    torch.save({"x": RunsCode()}, path)
    image = small_png(tmp_path / "a.png")
    for argv in (["predict", "--checkpoint", str(path), str(image)],
                 ["inspect", "--checkpoint", str(path), "--out", str(tmp_path / "out"), str(image)],
                 ["train", "--resume", str(path), "--quiet", "--out", str(tmp_path / "run")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert str(path) in err
        assert_no_unsafe_advice(err)


def test_out_of_memory_while_reading_a_file_names_the_file():
    assert "lower the batch size" not in describe_failure(MemoryError(), {"file": "/data/x.csv"})
    assert "/data/x.csv" in describe_failure(MemoryError(), {"file": "/data/x.csv"})


def test_a_file_too_big_for_memory_is_refused_naming_the_file_under_a_memory_limit(tmp_path):
    path = sparse_file(tmp_path / "per_image.csv", 200 << 20)  # under the cap for tables, above the memory left
    done = run_under_memory_limit(f"""
        from core.io.small_files import SmallFileError, read_csv
        try:
            read_csv({str(path)!r})
        except SmallFileError as exc:
            print(exc.kind, exc)
    """, imports=("core.io.small_files",), headroom=96 << 20, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("no_memory") and str(path) in done.stdout
    assert "batch size" not in done.stdout
