"""The parts on their own: plot buffers, settings round trip, the app entry point, imports before torch."""
import subprocess
import sys

import numpy as np
import pytest

from gui.plotting.plot_buffer import PlotBuffer


def test_plot_buffer_grows_and_keeps_every_point():
    b = PlotBuffer(capacity=4)
    for i in range(10):
        b.append(i, i * 2.0)
    assert len(b) == 10 and b.capacity == 16
    assert list(b.y) == [i * 2.0 for i in range(10)]
    view = b.x
    b.extend(np.arange(10, 1_000_000), np.zeros(999_990))
    assert len(b) == 1_000_000 and b.capacity >= 1_000_000
    assert b.x[-1] == 999_999 and b.y[5] == 10.0
    assert list(view) == list(range(10))  # an earlier view is still valid
    with pytest.raises(ValueError):
        b.extend([1, 2], [1])


def test_plots_hold_a_million_points(qtbot):
    from gui.training.plots import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(800, 600)
    plots.show()
    rng = np.random.default_rng(0)
    for start in range(0, 1_000_000, 100_000):
        steps = np.arange(start + 1, start + 100_001)
        plots.add_losses(steps, rng.random(100_000), np.full(100_000, 1e-3))
    assert len(plots.step_loss) == 1_000_000 and len(plots.step_loss_ema) == 1_000_000
    qtbot.waitUntil(lambda: plots.redraw_count > 0)
    x, _ = plots.raw_curve.getData()  # what is drawn: peak-downsampled, far fewer than a million
    assert x is not None and 0 < len(x) < 1_000_000
    assert plots.raw_curve.getOriginalDataset()[0].shape[0] == 1_000_000
    count = plots.redraw_count
    plots.redraw_if_dirty()  # what the timer calls: nothing new, so no redraw
    assert plots.redraw_count == count
    plots.add_losses([1_000_001], [0.5])
    plots.redraw_if_dirty()  # a new point: one redraw
    assert plots.redraw_count == count + 1


def test_ema_follows_losses(qtbot):
    from gui.training.plots import EMA_SMOOTHING, TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.add_losses([1, 2], [1.0, 0.0])
    plots.add_losses([3], [0.0])  # the average carries over between reports
    w = EMA_SMOOTHING  # TensorBoard's debiased EMA: the weighted mean of the points so far
    expected = [1.0, w * (1 - w) / (1 - w ** 2), w ** 2 * (1 - w) / (1 - w ** 3)]
    assert plots.step_loss_ema.y.tolist() == pytest.approx(expected)


def test_settings_round_trip(qtbot, app_settings, runs_root):
    from gui.window.main_window import MainWindow

    w = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(w)
    w.load_engine(blocking=True)
    form = {"dataset": "shapes", "train_count": 300, "model": "mlp", "epochs": 7, "batch_size": 24, "lr": "0.02",
            "optimizer": "sgd", "weight_decay": "0.0005", "schedule": "step", "seed": 42, "device": "cpu",
            "early_stop_patience": 4, "early_stop_metric": "val_acc", "nproc": 2,
            "dossier_topk": True, "layer_health_every": 50, "gamma": "0.5", "amp": False}  # the last two: Advanced
    w.panel.set_values(form)
    w.resize(700, 500)  # within the offscreen screen (800x600)
    w.close()

    w2 = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(w2)
    w2.load_engine(blocking=True)
    values = w2.panel.values()  # every field of the form, the Advanced group's included
    assert {key: values[key] for key in form} == form
    assert (w2.width(), w2.height()) == (700, 500)


def test_damaged_settings_fall_back_to_defaults(app_settings):
    app_settings.set_value("training/form", "{not json")
    assert app_settings.load_form() == {}


def test_new_run_dirs_are_unique(tmp_path):
    from core.runs.location import new_run_dir

    a = new_run_dir(tmp_path, "cnn", "/data/my photos")
    a.mkdir()
    b = new_run_dir(tmp_path, "cnn", "/data/my photos")
    assert a.name.endswith("_my_photos_cnn") and b == tmp_path / f"{a.name}-2"


def test_window_modules_do_not_import_torch():
    code = ("import sys; import gui.app, gui.window.main_window, gui.model_hub, gui.settings; "
            "assert 'torch' not in sys.modules, 'torch imported before the window shows'")
    subprocess.run([sys.executable, "-c", code], check=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""},
                   cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))


def test_create_window_keeps_images_and_opens_checkpoint(qtbot, app_settings, runs_root, tmp_path):
    from core.checkpoints.checkpoint import checkpoint_from_model, save_checkpoint
    from core.data.transforms import Preprocess
    from core.models import ModelSpec, build_model
    from gui.app import create_window, parse_args

    spec = ModelSpec("cnn", 2, 3, 32)
    path = save_checkpoint(checkpoint_from_model(build_model(spec), spec, ["a", "b"], Preprocess(32)), tmp_path / "m.pt")
    app, w = create_window(["--checkpoint", str(path), "x.jpg", "y.png"], runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(w)
    assert w.isVisible() and w.pending_images == ["x.jpg", "y.png"]
    with qtbot.waitSignal(w.hub.checkpointChanged, timeout=60_000):
        pass  # the engine loads after the first paint, then the checkpoint opens
    assert w.hub.current().classes == ["a", "b"]
    assert parse_args([]).checkpoint is None


def test_many_void_qt_calls_do_not_crash_python():
    # PySide6 6.12 on Python 3.11 takes a reference from None on every void call; without the guard in
    # gui/__init__.py this loop aborts Python with "none_dealloc" (None starts with a few thousand refs).
    # Emitting True to a Python slot takes a reference from True the same way ("bool_dealloc").
    code = ("import gui\nfrom PySide6.QtCore import QObject, Signal\n"
            "class S(QObject):\n    sig = Signal(bool)\n"
            "o = S()\no.sig.connect(lambda v: None)\n"
            "for _ in range(200_000):\n    o.setObjectName('x')\n    o.sig.emit(True)\nprint('alive')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "alive" in result.stdout


def test_start_run_fixes_x_ranges_to_the_run(qtbot):
    from gui.training.plots import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.show()
    plots.start_run({"total_steps": 100, "epochs": 4, "start_epoch": 0})
    plots.add_losses([1, 2, 3], [1.0, 0.9, 0.8], [0.1] * 3)
    plots.redraw_if_dirty()
    lo, hi = plots.loss_plot.viewRange()[0]
    assert lo <= 0 and 100 <= hi < 110  # the whole run, not just the 3 steps so far
    assert plots.acc_plot.viewRange()[0] == [0.5, 4.5]
    plots.clear()  # the next run starts from auto range again
    plots.add_losses([1, 2], [1.0, 0.5])
    qtbot.waitUntil(lambda: plots.loss_plot.viewRange()[0][1] < 10)  # auto range applies at the next paint


def test_a_run_handle_sends_records_then_weights_then_the_end_and_stops_looking(qtbot, tmp_path):
    """The one watcher (gui/training/run_handle.py) on a run this window started: what the process wrote before
    it exited arrives first, then the weights it left in last.pt, then the end; after it nothing is polled."""
    from core.checkpoints.checkpoint import checkpoint_from_model, save_checkpoint
    from core.data.transforms import Preprocess
    from core.models import ModelSpec, build_model
    from core.processes.job import TrainJob
    from core.runs import records
    from gui.training.run_handle import RunHandle

    run = tmp_path / "run"
    run.mkdir()
    # A stand-in for the run's process: it writes its start record once it is up, then waits for a signal.
    start = records.encode(records.make("start", epochs=1, start_epoch=0, batches_per_epoch=9, total_steps=9))
    process = subprocess.Popen([sys.executable, "-c", "import sys, time\nwith open(sys.argv[1], 'a') as fh:\n"
                                "    fh.write(sys.argv[2] + '\\n')\ntime.sleep(120)", str(run / "metrics.jsonl"), start])
    handle = RunHandle(run, TrainJob(process, run), poll_ms=50, started_after=0)  # every record is this run's
    seen = []
    handle.recordsArrived.connect(lambda rs: seen.append(("records", [r.kind for r in rs])))
    handle.weightsLoaded.connect(lambda w: seen.append(("weights", w.step, w.final)))
    handle.phaseChanged.connect(lambda phase: seen.append(("phase", phase)))
    try:
        handle.start()
        qtbot.waitUntil(lambda: ("phase", "running") in seen, timeout=60_000)  # up, and past its imports
        spec = ModelSpec("mlp", 3, 3, 16, {"hidden": [8]})
        ckpt = checkpoint_from_model(build_model(spec), spec, ["a", "b", "c"], Preprocess(image_size=16))
        ckpt.training_state = {"epoch": 0, "step": 4}
        save_checkpoint(ckpt, run / "last.pt")
        with (run / "metrics.jsonl").open("a") as fh:  # written just before it ends
            fh.write(records.encode(records.make("stopped", epoch=0, step=4)) + "\n")
        process.send_signal(2)  # SIGINT: a stopped run
        qtbot.waitUntil(lambda: ("phase", "ended") in seen, timeout=60_000)  # loads last.pt first: slow on a loaded machine
    finally:
        process.kill()
        process.wait()
        handle.shutdown()
    assert seen[-3:] == [("records", ["stopped"]), ("weights", 4, True), ("phase", "ended")]
    assert handle.exit_code == -2 and handle.final["kind"] == "stopped" and not handle._timer.isActive()


def test_empty_plots_say_what_to_do_and_each_epoch_plot_marks_its_own_best(qtbot):
    """Before a run every plot says what will appear there (not axes from 0 to 1); the loss plot marks the
    lowest validation loss and the accuracy plot the best accuracy, each label clear of the legend."""
    from gui.training.plots import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(880, 600)
    plots.show()
    assert all(hint.shown for hint in plots.hints.values())
    assert "Press Train" in plots.hints["loss_plot"].text
    assert not plots.loss_plot.getAxis("bottom").isVisible()
    epochs = [  # the lowest loss (epoch 2) is not the best accuracy (epoch 3)
        {"kind": "epoch", "epoch": 1, "step": 10, "val_loss": 0.9, "val_acc": 0.5, "train_loss": 1.0, "train_acc": 0.5},
        {"kind": "epoch", "epoch": 2, "step": 20, "val_loss": 0.4, "val_acc": 0.7, "train_loss": 0.6, "train_acc": 0.7},
        {"kind": "epoch", "epoch": 3, "step": 30, "val_loss": 0.5, "val_acc": 0.8, "train_loss": 0.4, "train_acc": 0.8}]
    plots.add_records([{"kind": "step", "step": s, "loss": 1.0 / s, "lr": 1e-3} for s in range(1, 31)] + epochs)
    qtbot.waitUntil(lambda: not any(hint.shown for hint in plots.hints.values()))
    assert plots.loss_plot.getAxis("bottom").isVisible()
    assert (plots.best_epoch, plots.lowest_loss_epoch) == (3, 2)
    assert plots.lowest_loss_line.value() == 2 and plots.best_lines[0].value() == 3
    assert plots.lowest_loss_line.label.toPlainText() == "lowest val loss 0.4"
    assert plots.best_lines[0].label.toPlainText() == "best val 80.0%"
    for plot, line in ((plots.epoch_loss_plot, plots.lowest_loss_line), (plots.acc_plot, plots.best_lines[0])):
        label = line.label.mapRectToScene(line.label.boundingRect())
        legend = plot.legend.mapRectToScene(plot.legend.boundingRect())
        assert not label.intersects(legend), "the best label is hidden behind the legend"


def test_time_left_says_paused_while_the_run_is_paused_and_its_eta_after(qtbot):
    from core.runs import records
    from gui.training.progress import ProgressPanel

    panel = ProgressPanel()
    qtbot.addWidget(panel)
    panel.add_records([records.make("start", epochs=2, start_epoch=0, batches_per_epoch=5, total_steps=10),
                       records.make("step", step=3, loss=1.0, epoch=1, batch=3, images_per_sec=50.0, elapsed_s=30.0,
                                    eta_s=70.0)])
    assert panel.eta_label.text() == "1:10 (elapsed 0:30)"
    panel.set_paused(True)
    assert panel.eta_label.text() == "paused"
    panel.add_records([records.make("step", step=4, loss=1.0, epoch=1, batch=4, images_per_sec=50.0,
                                    elapsed_s=40.0, eta_s=60.0)])  # the step in flight when Pause was pressed
    assert panel.eta_label.text() == "paused"
    panel.set_paused(False)
    assert panel.eta_label.text() == "1:00 (elapsed 0:40)"


def test_a_windows_pause_is_a_lease_it_renews_and_releases_when_it_stops_showing_the_run(qtbot, tmp_path):
    """The Train tab's pause of a followed run (gui/training/run_handle.py): written with a lease and this
    window's name, rewritten while paused (a window that dies stops renewing and the run goes on by itself),
    and released at once when the window stops showing the run."""
    import os
    import time

    from core.runs import records
    from core.runs.control import LEASE_S, read_control
    from gui.training.run_handle import RunHandle

    run = tmp_path / "run"
    run.mkdir()
    with open(run / "metrics.jsonl", "w") as fh:  # a live run another process writes
        fh.write(records.encode(records.make("start", epochs=1, start_epoch=0, batches_per_epoch=9, total_steps=9,
                                             heartbeat_s=600.0)) + "\n")
    handle = RunHandle(run, poll_ms=50)
    try:
        handle.start()
        qtbot.waitUntil(lambda: handle.phase == "running", timeout=10_000)
        handle._renewal.setInterval(50)  # renewed every RENEW_S seconds; sooner here
        handle.pause()
        qtbot.waitUntil(lambda: (read_control(run) or {}).get("pause") is True, timeout=10_000)
        first = read_control(run)
        assert first["lease_s"] == LEASE_S and first["by"].startswith(f"the Layerscope window, pid {os.getpid()} on ")
        qtbot.waitUntil(lambda: (read_control(run) or {}).get("time", 0) > first["time"], timeout=10_000)
        assert read_control(run)["pause"] is True  # renewed, still a pause
        handle.close()  # the window stops showing the run
        assert not handle._renewal.isActive()
        qtbot.waitUntil(lambda: (read_control(run) or {}).get("pause") is False, timeout=10_000)
        released = time.time()
    finally:
        handle.shutdown()
    assert (read_control(run) or {}).get("time", released) <= released  # nothing written after the release


def test_loss_range_moves_in_steps_and_leaves_a_users_zoom_alone(qtbot):
    """A falling loss refits y a few times, not at every redraw (each refit redraws axis and grid), always
    showing every point; once the user zooms, the range is theirs until auto range is on again."""
    from gui.training.plots import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(600, 400)
    plots.show()
    view = plots.loss_plot.getViewBox()
    ranges = []
    for start in range(0, 400, 10):
        steps = np.arange(start + 1, start + 11)
        plots.add_losses(steps, 2.0 * np.exp(-steps / 100) + 0.05 * np.sin(steps), np.full(10, 1e-3))
        plots.redraw_if_dirty()
        low, high = view.viewRange()[1]
        assert low <= plots.step_loss.y.min() and plots.step_loss.y.max() <= high
        ranges.append((low, high))
    moves = sum(a != b for a, b in zip(ranges, ranges[1:]))
    assert 0 < moves <= 8, moves  # 40 redraws

    view.setYRange(5.0, 6.0, padding=0)  # what a mouse zoom does, and says
    view.sigRangeChangedManually.emit(view.state["mouseEnabled"])
    plots.add_losses([401], [0.01])
    plots.redraw_if_dirty()
    assert view.viewRange()[1] == pytest.approx([5.0, 6.0])
    plots.loss_plot.enableAutoRange(axis="y")  # the "A" button: stepped auto range again
    plots.add_losses([402], [0.01])
    plots.redraw_if_dirty()
    assert view.viewRange()[1][0] <= 0.01


def test_hidden_plots_wait_until_shown(qtbot):
    """Records for a tab that is not on screen are kept, drawn once when it shows, not at every report."""
    from gui.training.plots import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.add_losses([1, 2, 3], [1.0, 0.9, 0.8])
    qtbot.waitUntil(lambda: not plots.timer.isActive())
    assert plots.redraw_count == 0
    plots.show()
    qtbot.waitUntil(lambda: plots.redraw_count == 1)
    assert plots.raw_curve.getOriginalDataset()[0].tolist() == [1, 2, 3]
