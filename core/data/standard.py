"""torchvision's standard sets by name: MNIST, Fashion-MNIST, CIFAR-10.

Files are downloaded once through torchvision's own download code (its mirrors and md5 checks) into
`user_data_dir("layerscope")/datasets` (or $LAYERSCOPE_DATA_DIR), in torchvision's usual layout, and found
there later without the network. They are read here straight into uint8 tensors (the whole set fits in
memory: MNIST is 47 MB) so training runs from ArrayDataset with no per-image decoding. The readers accept
the raw files both unpacked and gzipped, so files put there by hand work either way.
The official test split is the validation set.
"""
from __future__ import annotations

import gzip
import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.catalog import DATASETS
from core.data.folder import DatasetError

DATA_DIR_ENV = "LAYERSCOPE_DATA_DIR"
MAX_IDX_BYTES = 256 << 20  # MNIST's largest file is 47 MB


@dataclass(frozen=True)
class StandardInfo:
    """Where a standard set's files live; its title, channels and size are core.catalog's DATASETS facts."""

    name: str
    folder: str  # under the data dir
    files: tuple[str, ...]  # the files that must be in `folder`
    classes: tuple[str, ...]

    @property
    def title(self) -> str:
        return DATASETS[self.name].title

    @property
    def channels(self) -> int:
        return DATASETS[self.name].channels

    @property
    def size(self) -> int:
        return DATASETS[self.name].image_size


_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
STANDARD = {info.name: info for info in (
    StandardInfo("mnist", "MNIST/raw", _MNIST_FILES, tuple(str(d) for d in range(10))),
    StandardInfo("fashion_mnist", "FashionMNIST/raw", _MNIST_FILES,
                 ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot")),
    StandardInfo("cifar10", "cifar-10-batches-py",
                 tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"),
                 ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")),
)}


def data_dir() -> Path:
    """Where standard datasets live: $LAYERSCOPE_DATA_DIR, else the user data folder's datasets/."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("layerscope")) / "datasets"


def _find(folder: Path, name: str) -> Path | None:
    """The file `name` (or `name.gz`) in `folder`; anything under that name counts (a FIFO, a link), so the
    reader refuses it with the reason instead of a vague "missing"."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if os.path.lexists(candidate):
            return candidate
    return None


def missing_files(name: str, root: Path | None = None) -> list[str]:
    """The files of standard set `name` not yet in the data dir (a '.gz' of each is accepted too)."""
    info = STANDARD[name]
    folder = (root or data_dir()) / info.folder
    return [f for f in info.files if _find(folder, f) is None]


# ---- readers ---------------------------------------------------------------------------------------------

def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format: magic, dims, big-endian sizes, uint8 data), plain or gzipped."""
    from core.io.small_files import SmallFileError, read_bytes

    try:  # regular files only, within a cap (a FIFO or a link to /dev/zero in the data folder costs nothing)
        data = read_bytes(path, max_bytes=MAX_IDX_BYTES)
        if path.suffix == ".gz":
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
                data = fh.read(MAX_IDX_BYTES + 1)
            if len(data) > MAX_IDX_BYTES:
                raise DatasetError(f"{path}: unpacks to more than {MAX_IDX_BYTES >> 20} MiB; not an MNIST file")
    except SmallFileError as exc:
        raise DatasetError(f"{exc}; delete it so it is downloaded again") from None
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot be read ({exc}); delete it so it is downloaded again") from exc
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetError(f"{path}: not an IDX file of unsigned bytes (wrong header); delete it and download again")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) if dims else 0
    if len(data) - offset != expected:
        raise DatasetError(f"{path}: truncated or corrupt ({len(data) - offset} data bytes, expected {expected} "
                           f"for shape {dims}); delete it and download again")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _read_mnist(folder: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"{folder}: {prefix} images {images.shape} and labels {labels.shape} do not match")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def _unpickle(path: Path) -> dict:
    """A CIFAR batch through an unpickler that allows only the format's own types (core.data.cifar_pickle):
    a crafted batch file cannot run code."""
    from core.data.cifar_pickle import load_batch
    from core.io.small_files import SmallFileError

    try:
        return load_batch(path)
    except SmallFileError as exc:
        raise DatasetError(f"{exc}; delete it so it is downloaded again") from None
    except MemoryError:
        raise DatasetError(f"{path}: not enough memory to read this file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable CIFAR batch ({type(exc).__name__}: {str(exc)[:200]}); "
                           "it is not loaded. Delete it and download again") from None


def _read_cifar(folder: Path, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for name in names:
        path = _find(folder, name)
        batch = _unpickle(path)
        data = np.asarray(batch["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DatasetError(f"{path}: expected rows of 3072 bytes (32x32 RGB), got shape {data.shape}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def _cifar_classes(folder: Path, default: tuple[str, ...]) -> list[str]:
    meta = _find(folder, "batches.meta")
    names = _unpickle(meta).get("label_names") if meta else None
    return [str(n) for n in names] if names else list(default)


def load_standard(name: str, root: Path | None = None):
    """-> (train images uint8 [N,C,H,W], train labels, test images, test labels, class names)."""
    info = STANDARD[name]
    folder = (root or data_dir()) / info.folder
    if name == "cifar10":
        train = _read_cifar(folder, [f"data_batch_{i}" for i in range(1, 6)])
        test = _read_cifar(folder, ["test_batch"])
        return (*train, *test, _cifar_classes(folder, info.classes))
    return (*_read_mnist(folder, "train"), *_read_mnist(folder, "t10k"), list(info.classes))


# ---- download --------------------------------------------------------------------------------------------

def _torchvision_class(name: str):
    from torchvision import datasets

    return {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}[name]


def download_standard(name: str, root: Path | None = None) -> None:
    """Fetch the files of `name` with torchvision's download helpers (its URLs, mirrors and md5 sums)."""
    from torchvision.datasets.utils import download_and_extract_archive

    root = root or data_dir()
    cls = _torchvision_class(name)
    if name == "cifar10":
        download_and_extract_archive(cls.url, str(root), filename=cls.filename, md5=cls.tgz_md5)
        return
    raw = root / STANDARD[name].folder
    raw.mkdir(parents=True, exist_ok=True)
    for filename, md5 in cls.resources:
        if _find(raw, filename.removesuffix(".gz")) is not None:
            continue
        errors = []
        for mirror in cls.mirrors:
            try:
                download_and_extract_archive(f"{mirror}{filename}", str(raw), filename=filename, md5=md5)
                break
            except Exception as exc:  # noqa: BLE001 - any failure moves on to the next mirror
                errors.append(f"{mirror}: {exc}")
        else:
            raise OSError("; ".join(errors))


def _manual_instructions(name: str, root: Path) -> str:
    info = STANDARD[name]
    folder = root / info.folder
    if name == "cifar10":
        cls = _torchvision_class(name)
        return (f"download {cls.url} by hand and unpack it into {root} so that {folder} holds: "
                f"{', '.join(info.files)}")
    cls = _torchvision_class(name)
    return (f"download these files by hand (from {cls.mirrors[0]}) and put them in {folder} "
            f"(gzipped or unpacked): {', '.join(f for f, _ in cls.resources)}")


def ensure_standard(name: str, root: Path | None = None) -> Path:
    """Make sure the files of `name` are in the data dir (downloading once); DatasetError says where to put them."""
    root = root or data_dir()
    if not missing_files(name, root):
        return root
    try:
        download_standard(name, root)
    except Exception as exc:  # offline, a mirror down, a bad checksum: all end the same way for the user
        raise DatasetError(
            f"{STANDARD[name].title} is not on this computer and could not be downloaded "
            f"({type(exc).__name__}: {str(exc)[:300]}). To use it offline, "
            f"{_manual_instructions(name, root)}. (Set ${DATA_DIR_ENV} to use another folder.)") from exc
    still = missing_files(name, root)
    if still:
        raise DatasetError(f"{STANDARD[name].title}: after downloading, {', '.join(still)} are still missing in "
                           f"{root / STANDARD[name].folder}; {_manual_instructions(name, root)}")
    return root


def build_standard(spec):
    """A standard set by name -> DataBundle (uint8 tensors in ArrayDataset; official test split as val)."""
    from core.data.bundle import DataBundle
    from core.data.datasets import ArrayDataset
    from core.data.pipeline import eval_transform, match_channels, train_transform
    from core.data.stats import image_stats
    from core.data.transforms import Preprocess

    name = spec.name
    info = STANDARD[name]
    root = ensure_standard(name)
    x_train, y_train, x_test, y_test, classes = load_standard(name, root)
    channels = spec.channels or info.channels
    size = spec.image_size or info.size
    if spec.mean is not None and spec.std is not None:
        mean, std = tuple(spec.mean), tuple(spec.std)
    else:
        g = torch.Generator().manual_seed(spec.seed)
        sample = x_train[torch.randperm(len(x_train), generator=g)[:5000]]
        mean, std = image_stats(match_channels(img, channels) for img in sample)
    pre = Preprocess(image_size=size, channels=channels, mean=mean, std=std)
    # The fast path (normalise only) works at the native size; another size or augmentation adds a transform.
    resize = size != info.size
    train_tf = train_transform(pre, spec.augmentation) if (spec.augmentation.any() or resize) else None
    val_tf = eval_transform(pre) if resize else None  # the pipeline's geometry, as for a file
    return DataBundle(
        train=ArrayDataset(x_train, y_train, pre, train_tf), val=ArrayDataset(x_test, y_test, pre, val_tf),
        classes=classes, preprocess=pre, spec=spec,
    )
