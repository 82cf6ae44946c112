"""Package names that load on first use: a package's __init__ that imports nothing itself.

Why: importing any module of a package runs the package's __init__ first. When that file imports the heavy
parts (torch, the model code), a light module of the package cannot be loaded without them, and a module that
imports its own package makes an import cycle. With `lazy_exports`, `from core.data import build_data` still
works: the name is looked up in the module that defines it, the first time it is asked for.

    _EXPORTS = {"DataSpec": "core.data.spec", "build_data": "core.data.build"}
    __all__ = list(_EXPORTS)
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """(__getattr__, __dir__) for `package`: each name of `exports` comes from the module it maps to."""

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
