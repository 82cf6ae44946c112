"""The Qt front end. Importing any part of it first guards against a PySide6 bug that crashes Python 3.11
after enough Qt calls (see gui/pyside_none_guard.py)."""
from gui import pyside_none_guard as _pyside_none_guard  # noqa: F401
