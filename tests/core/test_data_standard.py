"""Standard sets from files in their real formats (MNIST IDX, CIFAR-10 pickles), never the internet."""
import functools
import gzip
import http.server
import hashlib
import pickle
import tarfile
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets

from core.data import DataSpec, build_data
from core.data.folder import DatasetError
from core.data.standard import missing_files, read_idx
from core.data.transforms import Augmentation


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _mnist_arrays(n: int, seed: int):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = np.zeros((n, 28, 28), np.uint8)
    for i, label in enumerate(labels):  # a bright bar whose row encodes the label: learnable, checkable
        images[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
    return images, labels


def write_mnist(folder: Path, gz: bool, n_train=60, n_test=20) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = _mnist_arrays(n, seed)
        arrays[prefix] = (images, labels)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte"
            data = _idx_bytes(arr)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return arrays


def write_cifar(folder: Path, per_batch=6) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        data = rng.integers(0, 255, (per_batch, 3072), dtype=np.uint8)
        data[:, 0] = k  # the first red pixel records which batch the row came from
        with open(folder / name, "wb") as fh:
            pickle.dump({"batch_label": name, "labels": labels, "data": data}, fh, protocol=2)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"], "num_vis": 3072}, fh)


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LAYERSCOPE_DATA_DIR", str(tmp_path / "datasets"))
    return tmp_path / "datasets"


@pytest.fixture
def no_network(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", offline)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files_load_without_network(data_dir, no_network, gz):
    arrays = write_mnist(data_dir / "MNIST" / "raw", gz)
    bundle = build_data(DataSpec(name="mnist"))
    assert bundle.classes == [str(d) for d in range(10)]
    assert len(bundle.train) == 60 and len(bundle.val) == 20
    assert bundle.preprocess.channels == 1 and bundle.preprocess.image_size == 28
    assert bundle.train.images.dtype == torch.uint8 and tuple(bundle.train.images.shape) == (60, 1, 28, 28)
    assert torch.equal(bundle.train.images[:, 0], torch.from_numpy(arrays["train"][0]))
    assert bundle.train.labels.tolist() == arrays["train"][1].tolist()
    x, y = bundle.val[3]
    assert tuple(x.shape) == (1, 28, 28) and y == int(arrays["t10k"][1][3])
    # normalised with the data's own statistics: mean ~0 over the training set
    assert abs(float(torch.stack([bundle.train[i][0] for i in range(60)]).mean())) < 0.05


def test_fashion_mnist_uses_its_own_folder_and_names(data_dir, no_network):
    write_mnist(data_dir / "FashionMNIST" / "raw", gz=True)
    bundle = build_data(DataSpec(name="fashion_mnist"))
    assert bundle.classes[0] == "T-shirt/top" and bundle.classes[9] == "Ankle boot"


def test_mnist_for_an_rgb_model_at_another_size(data_dir, no_network):
    write_mnist(data_dir / "MNIST" / "raw", gz=False)
    bundle = build_data(DataSpec(name="mnist", channels=3, image_size=32,
                                 augmentation=Augmentation(horizontal_flip=True)))
    x, _ = bundle.train[0]
    assert tuple(x.shape) == (3, 32, 32)
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])  # grayscale repeated
    xv, _ = bundle.val[0]
    assert tuple(xv.shape) == (3, 32, 32)


def test_cifar10_batches_load_without_network(data_dir, no_network):
    write_cifar(data_dir / "cifar-10-batches-py")
    bundle = build_data(DataSpec(name="cifar10"))
    assert bundle.classes[:3] == ["airplane", "automobile", "bird"]
    assert len(bundle.train) == 30 and len(bundle.val) == 6
    assert tuple(bundle.train.images.shape) == (30, 3, 32, 32) and bundle.preprocess.channels == 3
    assert bundle.train.images[:, 0, 0, 0].tolist() == [k for k in range(5) for _ in range(6)]
    assert bundle.val.images[:, 0, 0, 0].tolist() == [5] * 6


def test_offline_error_says_where_to_put_which_files(data_dir, no_network):
    with pytest.raises(DatasetError) as err:
        build_data(DataSpec(name="mnist"))
    msg = str(err.value)
    assert "could not be downloaded" in msg and "no network" in msg
    assert str(data_dir / "MNIST" / "raw") in msg
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        assert name in msg
    with pytest.raises(DatasetError) as err:
        build_data(DataSpec(name="cifar10"))
    msg = str(err.value)
    assert str(data_dir / "cifar-10-batches-py") in msg and "data_batch_1" in msg and "batches.meta" in msg
    assert "cifar-10-python.tar.gz" in msg


def test_corrupt_idx_file_is_a_clear_error(data_dir, no_network):
    folder = data_dir / "MNIST" / "raw"
    write_mnist(folder, gz=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        build_data(DataSpec(name="mnist"))


@pytest.fixture
def http_mirror(tmp_path, monkeypatch):
    """A local HTTP server (127.0.0.1, a free port) serving tmp_path/mirror: torchvision's downloader as is."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)  # a proxy must not intercept the local mirror
    served = tmp_path / "mirror"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_mnist_download_path_from_a_local_mirror(data_dir, http_mirror, monkeypatch):
    """torchvision's real download code, pointed at gzipped files served by a local HTTP mirror
    (the first mirror is down, as happens)."""
    served, url = http_mirror
    arrays = write_mnist(served, gz=True)
    resources = [(p.name, _md5(p)) for p in sorted(served.glob("*.gz"))]
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [url + "missing/", url])
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources", resources)
    assert len(missing_files("mnist")) == 4
    bundle = build_data(DataSpec(name="mnist"))
    assert missing_files("mnist") == []
    assert bundle.train.labels.tolist() == arrays["train"][1].tolist()
    # found there later, no network needed
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["file:///nonexistent/"])
    assert len(build_data(DataSpec(name="mnist")).train) == 60


def test_cifar_download_path_from_a_local_archive(data_dir, tmp_path, http_mirror, monkeypatch):
    served, url = http_mirror
    src = tmp_path / "src"
    write_cifar(src / "cifar-10-batches-py")
    archive = served / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url", url + "cifar-10-python.tar.gz")
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "tgz_md5", _md5(archive))
    bundle = build_data(DataSpec(name="cifar10"))
    assert len(bundle.train) == 30
    assert (data_dir / "cifar-10-batches-py" / "test_batch").is_file()


def test_bad_checksum_download_is_refused(data_dir, http_mirror, monkeypatch):
    served, url = http_mirror
    write_mnist(served, gz=True)
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [url])
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources",
                        [(p.name, "0" * 32) for p in sorted(served.glob("*.gz"))])
    with pytest.raises(DatasetError, match="could not be downloaded"):
        build_data(DataSpec(name="mnist"))


def test_read_idx_rejects_a_non_idx_file(tmp_path):
    path = tmp_path / "x-ubyte"
    path.write_bytes(b"hello world, not idx")
    with pytest.raises(DatasetError, match="not an IDX"):
        read_idx(path)


def test_augmentation_preview_of_a_standard_set(data_dir, no_network):
    from core.data.preview import _standard_train_images, augmentation_preview

    _standard_train_images.cache_clear()
    write_mnist(data_dir / "MNIST" / "raw", gz=True)
    grid = augmentation_preview(DataSpec(name="mnist"), Augmentation(rotation_degrees=10), n=5)
    assert grid.shape == (5, 28, 28, 3) and grid.dtype.name == "uint8"
    assert grid.max() == 255  # the bright bars survive, un-normalised
    _standard_train_images.cache_clear()
