"""Datasets: specs -> (train, val) datasets and loaders.

`build_data(DataSpec(...))` (build.py) is the one entry point: the built-in `shapes` set, an image folder, or a
torchvision standard set by name. Everything comes back as a DataBundle (bundle.py) with the class names and the
Preprocess (size, channels, normalisation) that checkpoints store and inference reuses.

This package file imports nothing: a light module (core.data.corrections, core.data.folder) loads without torch,
and no module of the package imports the package itself (no import cycle). Its public names load on first use
from the module that defines them, so `from core.data import DataSpec, build_data` works; code inside core
imports the defining module.
"""
from core.lazy import lazy_exports

_EXPORTS = {
    "DataSpec": "core.data.spec",
    "DataBundle": "core.data.bundle",
    "make_loader": "core.data.bundle",
    "build_data": "core.data.build",
    "DatasetError": "core.data.folder",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
