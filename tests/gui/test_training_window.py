"""The training workflow through the real window: Train, live plots, pause/resume/stop, close, errors."""
import json
import threading

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gui.model_hub import LiveWeights, OpenedFromFile

WAIT = 30_000  # for anything a training thread does: generous for a slow, shared 2-core machine


def has_steps(records) -> bool:
    """A batch of records with at least one step (the first batch may hold only the start record)."""
    return any(r["kind"] == "step" for r in records)


def click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def live_weights(window):
    """A checkpointChanged check: true for the copy request_live_weights asked for, not an epoch's."""
    return lambda _ckpt: isinstance(window.hub.provenance(), LiveWeights)


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


def test_train_two_epochs_fills_plots_and_writes_run(qtbot, window, tiny):
    epochs = []
    window.controller.recordsArrived.connect(lambda rs: epochs.extend(r for r in rs if r["kind"] == "epoch"))
    with qtbot.waitSignal(window.controller.runFinished, timeout=120_000) as finished:
        click(qtbot, window.panel.train_button)
    assert finished.args[0]["stopped"] is False
    assert [m["epoch"] for m in epochs] == [1, 2]
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=WAIT)
    plots = window.plots
    steps = 2 * (-(-tiny["train_count"] // tiny["batch_size"]))
    assert len(plots.step_loss) == steps  # every step's loss is kept
    assert list(plots.step_loss.x) == list(range(1, steps + 1))
    assert len(plots.step_loss_ema) == steps
    assert len(plots.epoch_val_acc) == 2 and len(plots.epoch_train_acc) == 2
    assert len(plots.step_lr) >= 2
    # The redraw timer draws every kept point (it may have drawn an earlier, shorter state first).
    def drawn():
        x = plots.raw_curve.getOriginalDataset()[0]
        return x is not None and len(x) == steps
    qtbot.waitUntil(drawn, timeout=5_000)
    run = window.controller.run_dir
    assert run.parent == window.controller.runs_root and run.name.endswith("_shapes_cnn")  # core.runs.location names runs
    assert (run / "last.pt").exists() and (run / "best.pt").exists()
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    kinds = [r["kind"] for r in lines]
    assert kinds.count("epoch") == 2 and kinds[-1] == "end"
    # One record path: the plots hold exactly the run's step records, as a follower of the file would.
    assert plots.step_loss.y.tolist() == [r["loss"] for r in lines if r["kind"] == "step"]
    assert window.record_view.records_shown == len(lines)
    assert any(str(run) in text for _, text in window.log.lines)
    assert sum("Epoch 2:" in text for _, text in window.log.lines) == 1
    # The hub holds the trained model, weights only.
    ckpt = window.hub.current()
    assert ckpt is not None and ckpt.training_state is None and ckpt.metrics["epoch"] == 2
    assert not window.hub.is_training()
    assert window.progress.run_bar.value() == 1000


def test_pause_resume_and_stop(qtbot, window):
    window.panel.set_values({"epochs": 50})
    states = []
    window.controller.stateChanged.connect(states.append)
    with qtbot.waitSignal(window.controller.recordsArrived, timeout=60_000, check_params_cb=has_steps):
        click(qtbot, window.panel.train_button)
    assert window.hub.is_training()
    assert not window.panel.train_action.isEnabled()
    click(qtbot, window.panel.pause_button)
    assert window.controller.state == "paused" and window.panel.pause_action.text() == "&Resume"
    # (the test looks at the worker's trainer; the GUI itself never holds it)
    worker = window.controller._worker
    qtbot.waitUntil(lambda: worker._trainer is not None and worker._trainer.paused, timeout=WAIT)
    trainer = worker._trainer
    # The batch in flight finishes, then the trainer waits; live weights are still served while paused.
    # Epoch-end checkpoints (still queued from before the pause, or from the batch in flight ending an
    # epoch) change the hub too: wait for the live copies themselves. Once the first is served (after the
    # batch in flight, or in the pause loop), the paused trainer takes no further step.
    with qtbot.waitSignal(window.hub.checkpointChanged, timeout=WAIT, check_params_cb=live_weights(window)):
        assert window.hub.request_live_weights()
    step = trainer.step
    with qtbot.waitSignal(window.hub.checkpointChanged, timeout=WAIT, check_params_cb=live_weights(window)) as got:
        assert window.hub.request_live_weights()
    assert got.args[0].training_state is None and window.hub.provenance() == LiveWeights(step)
    assert trainer.step == step
    click(qtbot, window.panel.pause_button)
    assert window.controller.state == "running"
    qtbot.waitUntil(lambda: trainer.step > step, timeout=WAIT)
    with qtbot.waitSignal(window.controller.runFinished, timeout=60_000) as finished:
        click(qtbot, window.panel.stop_button)
    assert finished.args[0]["stopped"] is True
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=WAIT)
    assert states == ["running", "paused", "running", "stopping", "idle"]
    assert (window.controller.run_dir / "last.pt").exists()
    assert window.panel.train_action.isEnabled() and not window.hub.is_training()


def test_closing_mid_training_stops_and_saves(qtbot, window):
    window.panel.set_values({"epochs": 50})
    with qtbot.waitSignal(window.controller.recordsArrived, timeout=60_000, check_params_cb=has_steps):
        window.panel.train_action.trigger()
    run = window.controller.run_dir
    window.close()
    assert window.controller.state == "idle"
    assert window.controller._thread is None
    assert (run / "last.pt").exists()
    assert not [t for t in threading.enumerate() if t.name.startswith("layerscope")]
    kinds = [json.loads(line)["kind"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "stopped" in kinds


def test_error_in_worker_shows_message_and_train_works_again(qtbot, window, monkeypatch):
    import gui.training.worker as worker_module
    from core.data import DatasetError

    real = worker_module.prepare_trainer

    def broken(*args, **kwargs):
        raise DatasetError("/nowhere: the folder does not exist")

    monkeypatch.setattr(worker_module, "prepare_trainer", broken)
    with qtbot.waitSignal(window.controller.runFailed, timeout=30_000):
        click(qtbot, window.panel.train_button)
    box = window.last_message_box
    assert box is not None and box.isVisible() and "/nowhere" in box.text()
    assert box.icon() == QMessageBox.Icon.Critical
    assert any(level == "error" and "/nowhere" in text for level, text in window.log.lines)
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=WAIT)
    box.close()
    monkeypatch.setattr(worker_module, "prepare_trainer", real)
    window.panel.set_values({"epochs": 1})
    with qtbot.waitSignal(window.controller.runFinished, timeout=120_000) as finished:
        click(qtbot, window.panel.train_button)
    assert finished.args[0]["stopped"] is False


def test_nan_loss_is_reported(qtbot, window):
    # An absurd learning rate makes the loss blow up; the engine raises TrainingError, the user sees why.
    window.panel.set_values({"lr": "1e12", "optimizer": "sgd", "epochs": 1})
    with qtbot.waitSignal(window.controller.runFailed, timeout=120_000) as failed:
        click(qtbot, window.panel.train_button)
    assert "learning" in failed.args[0]
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=WAIT)
    assert window.panel.train_action.isEnabled()


def test_bad_learning_rate_text_is_refused(qtbot, window):
    window.panel.set_values({"lr": "fast"})
    click(qtbot, window.panel.train_button)
    assert window.controller.state == "idle"
    assert "fast" in window.last_message_box.text()


def test_open_and_save_checkpoint(qtbot, window, tmp_path):
    from core.checkpoints.checkpoint import load_checkpoint

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(window.checkpoints.failed, timeout=WAIT):
        window.open_checkpoint(str(bad))
    assert "bad.pt" in window.last_message_box.text()
    window.last_message_box.close()

    with qtbot.waitSignal(window.controller.runFinished, timeout=120_000):
        window.panel.set_values({"epochs": 1})
        window.panel.train_action.trigger()
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=WAIT)
    out = tmp_path / "copy.pt"
    with qtbot.waitSignal(window.checkpoints.saved, timeout=WAIT):
        window.save_checkpoint_as(str(out))
    saved = load_checkpoint(out)
    assert saved.training_state is not None and saved.epoch == 1  # the run's last.pt, resumable
    with qtbot.waitSignal(window.hub.checkpointChanged, timeout=WAIT):
        window.open_checkpoint(str(out))
    assert window.hub.current().model_spec.name == "cnn" and window.hub.provenance() == OpenedFromFile(str(out))
    weights_only = tmp_path / "weights.pt"
    with qtbot.waitSignal(window.checkpoints.saved, timeout=WAIT):
        window.save_checkpoint_as(str(weights_only))  # not from the run: the hub's checkpoint is written
    assert load_checkpoint(weights_only).classes == saved.classes


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


def test_keyboard_shortcuts_drive_the_run(qtbot, window):
    from PySide6.QtTest import QTest

    window.panel.set_values({"epochs": 50})
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window, 5000)
    window.panel.lr.setFocus()  # typing in a field does not swallow the shortcut
    with qtbot.waitSignal(window.controller.recordsArrived, timeout=60_000, check_params_cb=has_steps):
        qtbot.keyClick(window.panel.lr, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.panel.lr, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert window.controller.state == "paused"
    qtbot.keyClick(window.panel.lr, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert window.controller.state == "running"
    with qtbot.waitSignal(window.controller.runFinished, timeout=60_000) as finished:
        qtbot.keyClick(window.panel.lr, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)
    assert finished.args[0]["stopped"] is True
    assert "Ctrl+P" in window.panel.pause_button.toolTip()


def test_resume_from_the_runs_tab_continues_in_the_same_run_folder(qtbot, window):
    from gui.window.runs_hookup import resume_run

    window.panel.set_values({"epochs": 50})
    with qtbot.waitSignal(window.controller.recordsArrived, timeout=60_000, check_params_cb=has_steps):
        click(qtbot, window.panel.train_button)
    run = window.controller.run_dir
    with qtbot.waitSignal(window.controller.runFinished, timeout=60_000):
        click(qtbot, window.panel.stop_button)
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=WAIT)
    config = json.loads((run / "config.json").read_text())
    stopped = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert stopped["kind"] == "stopped"
    config["train"]["epochs"] = stopped["epoch"] + 1  # finish the epoch in progress only
    with qtbot.waitSignal(window.controller.runFinished, timeout=120_000) as finished:
        resume_run(window, str(run), config, str(run / "last.pt"))
    assert finished.args[0]["stopped"] is False
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=WAIT)
    assert window.controller.run_dir == run and sorted(p.name for p in run.parent.iterdir()) == [run.name]
    kinds = [json.loads(line)["kind"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert kinds.count("start") == 2 and "stopped" in kinds and "resume" in kinds and kinds[-1] == "end"
    assert window.tabs.currentWidget() is window.train_tab and len(window.plots.epoch_val_acc) == 1
