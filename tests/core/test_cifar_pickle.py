"""CIFAR batches put into the data folder by hand are read by an unpickler that allows only the format's own
types: a crafted batch runs no code, allocates nothing it does not hold, and is refused with a message."""
from __future__ import annotations

import gzip
import io
import os
import pickle
import pickletools

import numpy as np
import pytest

from core.data.cifar_pickle import MAX_BATCH_BYTES, RefusedPickle, load_batch
from core.data.folder import DatasetError
from core.data.standard import load_standard
from tests.core.hostile_files import fifo
from tests.core.test_data_standard import write_cifar

pytestmark = pytest.mark.timeout(120)


class RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_real_shaped_batch_loads(tmp_path):
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    for protocol in (2, 4):  # CIFAR's own files are protocol 2 (Python 2); newer tools write 4
        path = tmp_path / f"batch{protocol}"
        path.write_bytes(pickle.dumps({b"labels": [3, 4], b"data": data, b"batch_label": b"x"}, protocol=protocol))
        batch = load_batch(path)
        assert batch["labels"] == [3, 4] and (batch["data"] == data).all() and batch["data"].dtype == np.uint8


def test_a_python2_style_batch_with_numpy_core_names_loads(tmp_path):
    """The real files name numpy.core.multiarray._reconstruct (numpy 2 moved it to numpy._core)."""
    text = pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [1]}, protocol=2)
    text = text.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in text
    path = tmp_path / "data_batch_1"
    path.write_bytes(text)
    assert load_batch(path)["labels"] == [1]


def test_a_batch_that_runs_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    root = tmp_path / "datasets"
    write_cifar(root / "cifar-10-batches-py")
    crafted = pickle.dumps({"data": RunsCode(marker), "labels": [0]}, protocol=2)
    (root / "cifar-10-batches-py" / "data_batch_1").write_bytes(crafted)
    with pytest.raises(DatasetError) as info:
        load_standard("cifar10", root)
    assert "posix.system" in str(info.value) or "os.system" in str(info.value)
    assert "data_batch_1" in str(info.value) and "allow_pickle" not in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("payload, words", [
    (np.array([1, "x"], dtype=object), "Python objects"),
    ({"data": pickle.loads(pickle.dumps(np.ma.masked_array([1, 2])))}, "numpy.ma"),
    ([1, 2, 3], "a dict"),
])
def test_other_types_are_refused(tmp_path, payload, words):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(RefusedPickle, match=words):
        load_batch(path)


def test_a_crafted_huge_start_shape_allocates_nothing(tmp_path):
    text = pickle.dumps(np.zeros(4, np.uint8), protocol=2)
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(text)]
    assert ("BININT1", 0) in ops  # the (0,) start shape numpy writes
    crafted = text.replace(b"K\x00\x85", b"J\x00\x00\x00\x40\x85", 1)  # (0,) -> (2**30,)
    path = tmp_path / "data_batch_1"
    path.write_bytes(crafted)
    with pytest.raises(RefusedPickle, match="shape"):
        load_batch(path)


def test_fifo_and_gzip_bomb_batches_are_refused_without_hanging(tmp_path):
    fifo(tmp_path / "data_batch_1")
    with pytest.raises(Exception, match="named pipe"):
        load_batch(tmp_path / "data_batch_1")
    bomb = tmp_path / "data_batch_2.gz"
    with gzip.GzipFile(fileobj=(buffer := io.BytesIO()), mode="wb") as fh:
        chunk = b"\0" * (16 << 20)
        for _ in range(MAX_BATCH_BYTES // len(chunk) + 1):
            fh.write(chunk)
    bomb.write_bytes(buffer.getvalue())
    with pytest.raises(Exception, match="unpacks to more than"):
        load_batch(bomb)
