"""The training workflow through the real window: Train runs the fit in a process of its own, followed through its
run folder into the live plots; pause / resume / stop, live weights, closing, errors. Runs are tiny (a torch
import in the child costs seconds): each test that needs a run starts one and checks all it can on it."""
import json
import os
import threading

from PySide6.QtCore import Qt, QTimer

from gui.model_hub import LiveWeights, OpenedFromFile, StoppedAt, TrainedEpoch
from gui.training import close_job

WAIT = 60_000  # for anything a run's process does: generous for a slow, shared 2-core machine
START = 180_000  # a run's first records: its process imports torch and builds the data first


def has_steps(records) -> bool:
    """A batch of records with at least one step (the first batch may hold only the start record)."""
    return any(r["kind"] == "step" for r in records)


def click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def live_weights(window):
    """A checkpointChanged check: true for the copy request_live_weights asked for, not an epoch's."""
    return lambda _ckpt: isinstance(window.hub.provenance(), LiveWeights)


def lines(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_defaults_come_from_core_and_train_is_enabled(qtbot, app_settings, runs_root):
    from core.data import DataSpec
    from core.training.config import TrainConfig
    from gui.window.main_window import MainWindow

    w = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(w)
    w.show()
    assert not w.panel.train_action.isEnabled()  # engine not loaded yet
    with qtbot.waitSignal(w.engineReady, timeout=60_000):
        w.load_engine()
    v = w.panel.values()
    assert v["dataset"] == "shapes" and v["model"] == "cnn"
    assert v["epochs"] == TrainConfig().epochs and float(v["lr"]) == TrainConfig().lr
    assert v["train_count"] == DataSpec().train_count
    assert w.panel.train_action.isEnabled()
    assert "Ctrl+Return" in w.panel.train_button.toolTip() or "Ctrl+Enter" in w.panel.train_button.toolTip()


def test_train_runs_in_its_own_process_fills_the_plots_and_the_hub_and_the_run_can_be_saved(qtbot, window, tiny,
                                                                                          tmp_path):
    from core.checkpoints.checkpoint import load_checkpoint

    epochs, states = [], []
    window.controller.recordsArrived.connect(lambda rs: epochs.extend(r for r in rs if r["kind"] == "epoch"))
    window.controller.stateChanged.connect(states.append)
    hub_models, starting = [], []
    window.hub.checkpointChanged.connect(lambda _c: hub_models.append(window.hub.provenance()))
    window.controller.stateChanged.connect(lambda state: state == "starting" and starting.append(
        (window.progress.status_label.text(), window.panel.stop_action.isEnabled(),
         window.panel.pause_action.isEnabled())))
    with qtbot.waitSignal(window.controller.runFinished, timeout=START) as finished:
        click(qtbot, window.panel.train_button)
    assert finished.args[0]["stopped"] is False and finished.args[0]["exit_code"] == 0
    # "Starting…" until the run's first record (its process imports torch); it can be stopped, not paused.
    assert len(starting) == 1 and "Starting" in starting[0][0] and starting[0][1:] == (True, False)
    assert [m["epoch"] for m in epochs] == [1, 2]
    assert states == ["starting", "running", "idle"] and window.controller.state == "idle"
    run = window.controller.run_dir
    written = lines(run)
    start = next(r for r in written if r["kind"] == "start")
    assert start["pid"] == window.controller.job.pid != os.getpid()  # trained in a process of its own
    assert not alive(start["pid"]) and window.controller.job.process.returncode == 0
    plots = window.plots
    steps = 2 * (-(-tiny["train_count"] // tiny["batch_size"]))
    assert len(plots.step_loss) == steps  # every step's loss is kept
    assert list(plots.step_loss.x) == list(range(1, steps + 1))
    assert len(plots.step_loss_ema) == steps
    assert len(plots.epoch_val_acc) == 2 and len(plots.epoch_train_acc) == 2
    assert len(plots.step_lr) >= 2

    def drawn():  # the redraw timer draws every kept point (it may have drawn an earlier, shorter state first)
        x = plots.raw_curve.getOriginalDataset()[0]
        return x is not None and len(x) == steps
    window.tabs.setCurrentIndex(0)  # the plots draw while on screen (a hidden Train tab draws when shown)
    qtbot.waitUntil(drawn, timeout=5_000)
    assert run.parent == window.controller.runs_root and run.name.endswith("_shapes_cnn")  # core.runs.location names runs
    page = window.evaluate_tab.evaluate_page  # the run evaluated itself at its end: Evaluate shows it
    qtbot.waitUntil(lambda: page.result is not None, timeout=WAIT)
    assert page.shown_folder == str(run / "eval") and "No evaluation" not in page.summary.text()
    assert (run / "last.pt").exists() and (run / "best.pt").exists() and (run / "launcher.log").exists()
    kinds = [r["kind"] for r in written]
    assert kinds.count("epoch") == 2 and "end" in kinds
    # One record path: the plots hold exactly the run's step records, as a follower of the file would.
    assert plots.step_loss.y.tolist() == [r["loss"] for r in written if r["kind"] == "step"]
    assert window.record_view.records_shown == len(written)
    assert any(str(run) in text for _, text in window.log.lines)
    assert sum("Epoch 2:" in text for _, text in window.log.lines) == 1
    # The hub got each epoch's weights (from last.pt, off the GUI thread), weights only.
    assert hub_models[-1] == TrainedEpoch(2) and hub_models in ([TrainedEpoch(1), TrainedEpoch(2)], [TrainedEpoch(2)])  # both epochs in one look: only the latest loads
    ckpt = window.hub.current()
    assert ckpt.training_state is None and ckpt.metrics["epoch"] == 2 and not window.hub.is_training()
    assert window.progress.run_bar.value() == 1000 and window.progress.status_label.text() == ""

    # Save copies the run's resumable last.pt; open reads it back; a bad file says why.
    out = tmp_path / "copy.pt"
    with qtbot.waitSignal(window.checkpoints.saved, timeout=WAIT):
        window.save_checkpoint_as(str(out))
    saved = load_checkpoint(out)
    assert saved.training_state is not None and saved.epoch == 2
    with qtbot.waitSignal(window.hub.checkpointChanged, timeout=WAIT):
        window.open_checkpoint(str(out))
    assert window.hub.current().model_spec.name == "cnn" and window.hub.provenance() == OpenedFromFile(str(out))
    weights_only = tmp_path / "weights.pt"
    with qtbot.waitSignal(window.checkpoints.saved, timeout=WAIT):
        window.save_checkpoint_as(str(weights_only))  # not from the run: the hub's checkpoint is written
    assert load_checkpoint(weights_only).classes == saved.classes
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(window.checkpoints.failed, timeout=WAIT):
        window.open_checkpoint(str(bad))
    assert "bad.pt" in window.last_message_box.text()


def test_pause_resume_stop_with_buttons_and_shortcuts_live_weights_while_paused_then_resume_from_the_runs_tab(
        qtbot, window):
    from PySide6.QtTest import QTest

    window.panel.set_values({"epochs": 50})
    states = []
    window.controller.stateChanged.connect(states.append)
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window, 5000)
    window.panel.lr.setFocus()  # typing in a field does not swallow the shortcuts
    with qtbot.waitSignal(window.controller.recordsArrived, timeout=START, check_params_cb=has_steps):
        qtbot.keyClick(window.panel.lr, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    handle = window.controller.handle
    run = window.controller.run_dir
    assert window.hub.is_training() and not window.panel.train_action.isEnabled()

    click(qtbot, window.panel.pause_button)
    assert window.controller.state == "paused" and window.panel.pause_action.text() == "&Resume"
    qtbot.waitUntil(lambda: handle.status == "paused", timeout=WAIT)  # the run's own records say so
    paused_at = [r for r in lines(run) if r["kind"] == "paused"][-1]["step"]
    # Live weights while paused: a snapshot the run writes from its pause loop, at the step it paused at.
    with qtbot.waitSignal(window.hub.checkpointChanged, timeout=WAIT, check_params_cb=live_weights(window)) as got:
        assert window.hub.request_live_weights()
    assert got.args[0].training_state is None and window.hub.provenance() == LiveWeights(paused_at)
    with qtbot.waitSignal(window.hub.checkpointChanged, timeout=WAIT, check_params_cb=live_weights(window)):
        assert window.hub.request_live_weights()  # again: the run has not moved
    assert window.hub.provenance() == LiveWeights(paused_at)
    assert max(r["step"] for r in lines(run) if r["kind"] == "step") <= paused_at  # no step while paused

    qtbot.keyClick(window.panel.lr, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)  # resume
    assert window.controller.state == "running"
    qtbot.waitUntil(lambda: max(r["step"] for r in lines(run) if r["kind"] == "step") > paused_at, timeout=WAIT)
    qtbot.keyClick(window.panel.lr, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)  # pause
    assert window.controller.state == "paused"
    click(qtbot, window.panel.pause_button)  # resume
    assert window.controller.state == "running"
    with qtbot.waitSignal(window.controller.runFinished, timeout=WAIT) as finished:
        qtbot.keyClick(window.panel.lr, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)  # stop
    assert finished.args[0]["stopped"] is True and window.controller.last_exit == 130
    assert states == ["starting", "running", "paused", "running", "paused", "running", "stopping", "idle"]
    assert "Ctrl+P" in window.panel.pause_button.toolTip()
    stopped = lines(run)[-1]
    assert stopped["kind"] == "stopped" and (run / "last.pt").exists()
    assert window.hub.provenance() == StoppedAt(stopped["step"]) and window.hub.current().training_state is None
    assert window.panel.train_action.isEnabled() and not window.hub.is_training()

    # Resumed from the Runs tab: the same folder, its records go on after the stopped run's.
    config = json.loads((run / "config.json").read_text())
    config["train"]["epochs"] = stopped["epoch"] + 1  # finish the epoch in progress only
    with qtbot.waitSignal(window.controller.runFinished, timeout=START) as finished:
        window.runs_tab.resumeRequested.emit(str(run), config, str(run / "last.pt"))  # the Runs tab's Resume
    assert finished.args[0]["stopped"] is False
    assert window.controller.run_dir == run and sorted(p.name for p in run.parent.iterdir()) == [run.name]
    kinds = [r["kind"] for r in lines(run)]
    assert kinds.count("start") == 2 and "stopped" in kinds and "resume" in kinds and kinds[-1] == "end"
    assert window.tabs.currentWidget() is window.train_tab
    # The Train tab draws the run's whole lineage: every epoch once, the stopped run's included.
    assert len(window.plots.epoch_val_acc) == stopped["epoch"] + 1 == kinds.count("epoch")


def test_closing_mid_run_asks_and_stop_saves_and_ends_its_process(qtbot, window):
    window.panel.set_values({"epochs": 50})
    with qtbot.waitSignal(window.controller.recordsArrived, timeout=START, check_params_cb=has_steps):
        window.panel.train_action.trigger()
    run, job = window.controller.run_dir, window.controller.job
    asked = []
    window.ask_close_job = lambda parent, where: asked.append(where) or close_job.STOP
    window.close()
    assert asked == [run] and window.controller.state == "idle" and window.controller.handle is None
    assert job.process.poll() == 130  # stopped by SIGINT after its batch, and waited for
    assert (run / "last.pt").exists() and "stopped" in [r["kind"] for r in lines(run)]
    assert not [t for t in threading.enumerate() if t.name.startswith("layerscope")]


def test_settings_out_of_limits_refused_up_front_and_errors_in_the_runs_process_reach_the_user(qtbot, window, tmp_path):
    # An absurd learning rate: refused before any process starts, by the catalogue's limits (the same message
    # the CLI's option and a settings file give).
    window.panel.set_values({"lr": "1e12", "optimizer": "sgd", "epochs": 1})
    click(qtbot, window.panel.train_button)
    box = window.last_message_box
    assert box is not None and "learning rate" in box.text().lower() and "outside" in box.text()
    assert window.controller.state == "idle" and window.controller.job is None
    assert window.panel.train_action.isEnabled()
    box.close()
    # A dataset the run cannot use: the process says why on its way out (its last word in RUN/launcher.log).
    one_class = tmp_path / "one-class" / "cats"
    one_class.mkdir(parents=True)
    from PIL import Image

    for i in range(3):
        Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(one_class / f"{i}.png")
    window.panel.set_values({"lr": "0.01"})
    window.run_settings.update({"dataset": str(one_class.parent)})
    with qtbot.waitSignal(window.controller.runFailed, timeout=START) as failed:
        click(qtbot, window.panel.train_button)
    assert "one-class" in failed.args[0] and "at least two classes" in failed.args[0]
    assert "one-class" in window.last_message_box.text()
    assert any(level == "error" and "at least two classes" in text for level, text in window.log.lines)
    assert window.controller.state == "idle" and window.panel.train_action.isEnabled()


def test_bad_learning_rate_text_is_refused(qtbot, window):
    window.panel.set_values({"lr": "fast"})
    click(qtbot, window.panel.train_button)
    assert window.controller.state == "idle" and window.controller.job is None
    assert "fast" in window.last_message_box.text()


def test_drop_routes_paths(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    seen = []
    window.route_drop = seen.append  # the extension point others override
    image = tmp_path / "a.png"
    image.write_bytes(b"x")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert seen == [[str(image)]]


def test_quitting_mid_run_asks_stop_and_save_keep_running_or_cancel(qtbot, window, monkeypatch):
    """Ctrl+Q and the window's close button, with a run of this window going on: the real question, its three
    answers; Cancel keeps the window, Keep running leaves the run to itself (no run is needed to ask)."""
    from PySide6.QtWidgets import QApplication

    monkeypatch.setattr(window.train_tab, "is_active", lambda: True)
    left = []
    monkeypatch.setattr(window.controller, "leave", lambda: left.append(True))
    asked = []

    def answer(button_text):
        def press():
            box = QApplication.activeModalWidget()
            asked.append((box.windowTitle(), [b.text() for b in box.buttons()]))
            next(b for b in box.buttons() if b.text() == button_text).click()
        return press

    QTimer.singleShot(0, answer("Cancel"))
    qtbot.keyClick(window.panel.lr, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Q
    assert asked and window.isVisible() and not left
    assert sorted(asked[0][1]) == sorted(["Stop and save", "Keep running in the background", "Cancel"])
    QTimer.singleShot(0, answer("Keep running in the background"))
    window.close()  # the close button
    assert len(asked) == 2 and left == [True] and not window.isVisible()
