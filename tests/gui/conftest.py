"""GUI tests run offscreen; every window gets its own settings file and runs folder under tmp_path."""
import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QSettings  # noqa: E402

from gui.settings import AppSettings  # noqa: E402

TINY = {"dataset": "shapes", "train_count": 96, "model": "cnn", "epochs": 2, "batch_size": 16, "lr": "0.003",
        "optimizer": "adam", "schedule": "none", "seed": 0, "device": "cpu"}


@pytest.fixture(autouse=True, scope="session")
def garbage_collected_on_the_gui_thread_only():
    """As in the app (gui/app.py runs pyqtgraph's GarbageCollector): automatic collection is off, so a
    collection never starts on a worker thread (an export, a scan) while the GUI thread deletes Qt wrappers
    (see below for the crash that gives); the fixture below collects between tests, on the main thread."""
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def delete_closed_widgets_while_no_thread_runs():
    """pytest-qt ends each test with close() + deleteLater() on its widgets, but a deferred delete only runs
    in the next event loop: the next test's, while its worker threads run Python. PySide6 6.12 lets go of
    the GIL halfway through deleting a wrapped layout, and a garbage collection that a worker thread starts
    just then reads the layout's freed child wrappers: a segfault (core dump: QBoxLayout::~QBoxLayout ->
    Shiboken::Object::destroy on the GUI thread, visit_decref from shiboken's tp_traverse in a health-scan
    thread). Delete them here instead, after this test's fixtures have stopped its threads."""
    yield
    if QCoreApplication.instance() is not None:
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect(1)  # the young generations; objects that survive them are few and stay until the session ends


@pytest.fixture
def tiny():
    return dict(TINY)


@pytest.fixture
def app_settings(tmp_path):
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def runs_root(tmp_path):
    return tmp_path / "runs"


@pytest.fixture
def window(qtbot, app_settings, runs_root):
    """The main window, shown, with the engine loaded and a tiny, fast training form."""
    from gui.app import make_application
    from gui.window.main_window import MainWindow

    make_application()
    w = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(w)
    w.show()
    w.load_engine(blocking=True)
    w.panel.set_values(TINY)
    # Tiny models on 2 shared cores: small CNN keeps each run to a second or two.
    yield w
    assert w.controller.shutdown(), "the run's process did not finish"
    job = w.controller.job
    assert job is None or job.process.poll() is not None, "a run's process was left running"
    assert w.controller.handle is None
