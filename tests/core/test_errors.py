"""One error root: every exception class core defines is a LayerscopeError (its message is written for the
user), except the two ways of stopping (Cancelled, Interrupted); one Cancelled; core.errors stays torch-free."""
import importlib
import inspect
import pkgutil
import subprocess
import sys

import core
from core.errors import Cancelled, LayerscopeError, user_message


def _core_modules():
    for info in pkgutil.walk_packages(core.__path__, "core."):
        if not info.name.endswith("__main__"):
            yield importlib.import_module(info.name)


def _exception_classes():
    for module in _core_modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            # A private class (_Reached: a forward pass stopped early on purpose) never leaves its module.
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__ and not cls.__name__.startswith("_"):
                yield cls


def test_every_exception_class_in_core_is_user_facing_except_the_two_stops():
    from core.io.signals import Interrupted  # Ctrl+C / SIGTERM: a KeyboardInterrupt, not a failure

    classes = set(_exception_classes())
    assert len(classes) >= 20  # the walk really found core's errors
    outside = sorted(c.__qualname__ for c in classes if not issubclass(c, LayerscopeError))
    assert outside == sorted(c.__qualname__ for c in (Cancelled, Interrupted))


def test_errors_keep_the_bases_their_callers_catch():
    from core.catalog import SettingError
    from core.checkpoints.schema import SchemaError
    from core.runs.records import RecordError

    assert all(issubclass(c, ValueError) for c in (SettingError, SchemaError, RecordError))


def test_there_is_one_cancelled():
    classes = [c for c in _exception_classes() if c.__name__ == "Cancelled"]
    assert classes == [Cancelled]
    assert not issubclass(Cancelled, LayerscopeError)  # nobody shows a cancel as a failure


def test_user_message_tells_a_bug_from_a_users_problem():
    import errno

    assert user_message(LayerscopeError("pick a folder with images")) == "pick a folder with images"
    assert user_message(KeyError("x")) is None  # a bug: the edge says "internal error"
    assert "disk is full" in user_message(OSError(errno.ENOSPC, "No space left on device", "/tmp/x"))
    assert "batch size" in user_message(MemoryError())


def test_core_errors_and_the_catalogue_import_without_torch():
    code = "import sys, core.errors, core.catalog; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
