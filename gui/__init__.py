"""The Qt front end.

PySide6 6.12 on Python 3.11 leaks references to None/True/False and crashes the app after enough Qt calls
(see gui/pyside_none_guard.py). The guard must run right after Qt loads, in every process that uses Qt,
but `layerscope train|predict|...` enters through this package and must not load Qt at all. So instead of
importing PySide6 here, we install the guard the moment PySide6.QtCore is first imported.
"""
import importlib.abc
import importlib.util
import sys


def _install_guard() -> None:
    from gui import pyside_none_guard  # noqa: F401  (installs itself on import)


class _GuardAfterQtCore(importlib.abc.MetaPathFinder):
    """Wraps the loader of PySide6.QtCore so the guard runs as soon as the module is initialised."""

    def find_spec(self, name, path, target=None):
        if name != "PySide6.QtCore":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        original_exec = spec.loader.exec_module

        def exec_module(module, _exec=original_exec):
            _exec(module)
            _install_guard()

        spec.loader.exec_module = exec_module
        return spec


if "PySide6.QtCore" in sys.modules:
    _install_guard()
elif not any(isinstance(f, _GuardAfterQtCore) for f in sys.meta_path):
    sys.meta_path.insert(0, _GuardAfterQtCore())
