"""Opening and saving a checkpoint run off the GUI thread, and the window keeps its timers on time meanwhile."""
import threading
import time

from PySide6.QtCore import QTimer

from gui.model_hub import OpenedFromFile
from tests.gui.test_inspector_window import WAIT, tiny_checkpoint

TICK_MS = 20


def test_open_and_save_run_off_the_gui_thread_while_the_window_keeps_ticking(qtbot, window, tmp_path, monkeypatch):
    from core.checkpoints import checkpoint as checkpoints

    gui_thread = threading.get_ident()
    ran_on: dict[str, int] = {}
    release = threading.Event()
    ticks: list[float] = []
    phase_start = [0]

    def held(name, real):
        def call(*args, **kwargs):
            ran_on[name] = threading.get_ident()
            # The torch work waits until the GUI thread has ticked a few times: possible only off that thread.
            assert release.wait(WAIT / 1000), "the GUI thread did not tick while the checkpoint work ran"
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(checkpoints, "load_checkpoint", held("load", checkpoints.load_checkpoint))
    monkeypatch.setattr(checkpoints, "save_checkpoint", held("save", checkpoints.save_checkpoint))

    def tick():
        ticks.append(time.monotonic())
        if len(ticks) - phase_start[0] >= 5:
            release.set()

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    try:
        window.hub.set_checkpoint(tiny_checkpoint(), "unit test")  # not the run's: the hub's model is written
        out = tmp_path / "model.pt"
        with qtbot.waitSignal(window.checkpoints.saved, timeout=WAIT):
            window.save_checkpoint_as(str(out))
        assert out.exists()

        release.clear()
        phase_start[0] = len(ticks)
        with qtbot.waitSignal(window.hub.checkpointChanged, timeout=WAIT):
            window.open_checkpoint(str(out))
        assert window.hub.provenance() == OpenedFromFile(str(out))
    finally:
        timer.stop()
    assert ran_on.keys() == {"save", "load"}
    assert gui_thread not in ran_on.values()
    # No timing here (a shared machine is noisy): the work was held until the GUI thread had ticked 5 times,
    # which only a GUI thread that is not running that work can do.


def test_a_failed_open_is_explained_and_nothing_changes(qtbot, window, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(window.checkpoints.failed, timeout=WAIT) as failed:
        window.open_checkpoint(str(bad))
    assert failed.args[0] == "Could not open checkpoint" and "bad.pt" in failed.args[1]
    assert window.hub.current() is None
    assert any(level == "error" and "bad.pt" in text for level, text in window.log.lines)


def test_saving_with_no_model_says_so(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.checkpoints.failed, timeout=WAIT) as failed:
        window.save_checkpoint_as(str(tmp_path / "nothing.pt"))
    assert "no model yet" in failed.args[1]
    assert not (tmp_path / "nothing.pt").exists()
