"""The Runs tab: listing, filtering, live updates, overlays, comparison, rename / note / delete + undo, and
bad run folders shown as row messages."""
import json
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.core.test_run_index import make_run


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "runs"
    make_run(root / "alpha", model="cnn")
    make_run(root / "beta", model="mlp", done=2, final="stopped")
    return root


@pytest.fixture
def tab(qtbot, root):
    from gui.app import make_application
    from gui.runs.tab import RunsTab

    make_application()
    t = RunsTab(root)
    qtbot.addWidget(t)
    t.resize(1000, 800)
    t.show()
    t.start()
    qtbot.waitUntil(lambda: t.model.rowCount() >= 2, timeout=10_000)
    yield t
    t.shutdown()


def rows(tab):
    return {tab.model.summary(i).name: tab.model.summary(i) for i in range(tab.model.rowCount())}


def visible_names(tab):
    return sorted(tab.proxy.index(r, 0).data() for r in range(tab.proxy.rowCount()))


def select(tab, qtbot, *names):
    by_name = {s.name: s.path for s in rows(tab).values()}
    tab.select_paths([by_name[n] for n in names])
    qtbot.waitUntil(lambda: sorted(tab.selected_paths()) == sorted(by_name[n] for n in names), timeout=5_000)


def test_lists_runs_with_their_facts_and_sorts(tab):
    r = rows(tab)
    assert (r["alpha"].status, r["alpha"].epochs_text, r["alpha"].best_val_acc) == ("finished", "3 / 3", 0.8)
    assert (r["beta"].status, r["beta"].model) == ("stopped", "mlp")
    tab.table.sortByColumn(4, Qt.SortOrder.AscendingOrder)  # epochs ascending: beta (2) first
    assert tab.proxy.index(0, 0).data() == "beta"
    tab.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)
    assert tab.proxy.index(0, 0).data() == "alpha"


def test_filter_by_text(tab):
    tab.filter.setText("mlp")
    assert visible_names(tab) == ["beta"]
    tab.filter.setText("finished cnn")
    assert visible_names(tab) == ["alpha"]
    tab.filter.clear()
    assert visible_names(tab) == ["alpha", "beta"]


def test_an_appended_epoch_shows_in_the_table(tab, qtbot, root):
    run = root / "gamma"
    make_run(run, epochs=4, done=2, final=None)
    tab.refresh()
    qtbot.waitUntil(lambda: "gamma" in rows(tab), timeout=10_000)
    select(tab, qtbot, "gamma")
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"version": 1, "kind": "epoch", "epoch": 3, "step": 12, "val_loss": 0.3,
                             "val_acc": 0.99}) + "\n")
    qtbot.waitUntil(lambda: rows(tab)["gamma"].epochs_done == 3, timeout=5_000)
    assert rows(tab)["gamma"].best_val_acc == 0.99
    qtbot.waitUntil(lambda: len(tab.curves[str(run)].val_acc) == 3, timeout=5_000)  # and in the plots


def test_overlay_of_two_runs_draws_two_curves_and_a_toggle_hides_one(tab, qtbot):
    select(tab, qtbot, "alpha", "beta")
    overlay = tab.overlay
    qtbot.waitUntil(lambda: overlay.visible_loss_curves() == 2, timeout=5_000)
    assert overlay.toggles.count() == 2
    colours = {items.colour for _, items in overlay._runs.values()}
    assert len(colours) == 2
    overlay.toggles.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert overlay.visible_loss_curves() == 1
    for mode in ("epoch", "wall", "step"):
        overlay.set_x_mode(mode)
        assert overlay.visible_loss_curves() == 1


def _axes_shown(overlay) -> bool:
    plots = (overlay.loss_plot, overlay.val_loss_plot, overlay.acc_plot, overlay.lr_plot)
    return any(plot.getAxis(name).isVisible() for plot in plots for name in ("left", "bottom"))


def test_the_overlay_says_what_to_do_until_runs_are_selected(tab, qtbot):
    assert all(h.shown for h in tab.overlay.hints) and "Select runs" in tab.overlay.hints[0].text
    assert not _axes_shown(tab.overlay)  # a sentence, not empty 0..1 axes
    tab.overlay.set_x_mode("epoch")  # naming the x axis again does not bring it back
    assert not _axes_shown(tab.overlay)
    tab.overlay.set_x_mode("step")
    select(tab, qtbot, "alpha")
    assert not any(h.shown for h in tab.overlay.hints) and _axes_shown(tab.overlay)
    tab.table.clearSelection()
    qtbot.waitUntil(lambda: all(h.shown for h in tab.overlay.hints), timeout=5_000)
    assert not _axes_shown(tab.overlay)


def test_with_no_runs_at_all_the_overlay_says_how_to_get_one(qtbot, tmp_path):
    from gui.app import make_application
    from gui.runs.tab import RunsTab

    make_application()
    empty = RunsTab(tmp_path / "no_runs_yet")
    qtbot.addWidget(empty)
    try:
        with qtbot.waitSignal(empty.scanned, timeout=10_000):
            empty.start()
        assert empty.overlay.hints[0].shown and "No runs yet" in empty.overlay.hints[0].text
    finally:
        empty.shutdown()


def test_best_epoch_is_marked(tab, qtbot):
    select(tab, qtbot, "alpha")
    items = tab.overlay._runs[tab.selected_paths()[0]][1]
    qtbot.waitUntil(lambda: len(items.best_acc.data) == 1, timeout=5_000)
    x, y = items.best_acc.data["x"][0], items.best_acc.data["y"][0]
    assert (x, y) == (8.0, 0.8)  # step axis: epoch 2 ended at step 8
    # The loss plot stars the lowest validation loss (epoch 3), not the best accuracy's epoch where it was higher.
    assert items.best_loss.data["x"][0] == 12.0 and items.best_loss.data["y"][0] == 1.0 / 3


def test_settings_comparison_highlights_differences(tab, qtbot):
    select(tab, qtbot, "alpha", "beta")
    assert tab.comparison.differing_keys() == ["model_name"]
    assert tab.comparison.table.columnCount() == 2
    tab.comparison.only_differences.setChecked(True)
    assert tab.comparison.table.rowCount() == 1


def test_settings_of_three_real_runs_fit_without_scrolling_and_auto_reads_auto(tab, qtbot, root):
    config = {"version": 1, "data": {"name": "/data/a/rather/long/path/to/the/photos", "image_size": None,
                                     "val_fraction": 0.2, "augment": ["flip", "crop=0.5"]},
              "model_name": "resnet18", "model_options": {"channels": 16, "blocks": 3, "dropout": 0.3},
              "train": {"epochs": 30, "lr": 0.002, "optimizer": "adamw", "weights": None},
              "classes": ["ants", "bees", "wasps", "hornets", "flies", "beetles"]}
    make_run(root / "gamma")
    for name, lr in (("alpha", 0.001), ("beta", 0.002), ("gamma", 0.003)):
        (root / name / "config.json").write_text(json.dumps({**config, "train": {**config["train"], "lr": lr}}))
    tab.refresh()
    qtbot.waitUntil(lambda: len(rows(tab)) == 3, timeout=10_000)
    tab.details.setCurrentWidget(tab.comparison)
    select(tab, qtbot, "alpha", "beta", "gamma")
    table = tab.comparison.table
    qtbot.waitUntil(lambda: table.columnCount() == 3, timeout=5_000)
    keys = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    assert table.item(keys.index("data.image_size"), 0).text() == "auto"  # not "null"
    assert table.item(keys.index("train.weights"), 0).text() == "none"
    qtbot.waitUntil(lambda: table.viewport().width() > 0)
    assert table.horizontalScrollBar().maximum() == 0  # three runs side by side, no horizontal scrolling


def test_rename_and_note_persist(tab, qtbot, root, monkeypatch):
    import gui.runs.file_actions
    from core.runs.actions import rename_run

    select(tab, qtbot, "alpha")
    threads = []
    monkeypatch.setattr(gui.runs.file_actions, "rename_run", lambda *a: threads.append(threading.current_thread()) or rename_run(*a))
    tab.rename_selected("baseline")
    qtbot.waitUntil(lambda: len(threads) == 1, timeout=5_000)
    assert threads[0] is not threading.main_thread()  # the file is written off the GUI thread
    tab.note_selected("first try")
    qtbot.waitUntil(lambda: "baseline" in rows(tab) and rows(tab)["baseline"].note == "first try", timeout=5_000)
    from core.runs.index import RunIndex

    again = {s.name: s for s in RunIndex(root).scan()}
    assert again["baseline"].note == "first try" and again["baseline"].path == str(root / "alpha")


def test_delete_and_undo(tab, qtbot, root):
    select(tab, qtbot, "beta")
    tab.actions_by_name["delete"].trigger()  # the move runs off the GUI thread
    qtbot.waitUntil(lambda: "beta" not in rows(tab), timeout=5_000)
    assert not (root / "beta").exists()
    assert tab.undo_bar.isVisible() and "Deleted 1 run" in tab.undo_bar.label.text()
    assert any(p.name.startswith("beta") for p in (root / ".trash").iterdir())
    tab.actions_by_name["undo"].trigger()  # Ctrl+Z
    qtbot.waitUntil(lambda: "beta" in rows(tab), timeout=10_000)
    assert (root / "beta" / "metrics.jsonl").exists() and not tab.undo_bar.isVisible()


def test_bad_run_folders_get_a_message_and_the_rest_keeps_working(tab, qtbot, root):
    from core.runs.index import RunIndex

    (root / "noconfig").mkdir()
    (root / "noconfig" / "metrics.jsonl").write_text("")
    make_run(root / "garbage")
    (root / "garbage" / "metrics.jsonl").write_bytes(b"\x00\xff garbage\n{]\n")
    assert "not UTF-8" in RunIndex(root).summary(root / "garbage").error  # binary: said so
    make_run(root / "nan", final=None)
    with open(root / "nan" / "metrics.jsonl", "a") as fh:
        fh.write('{"kind": "epoch", "epoch": 4, "val_acc": "NaN?"}\n')
    tab.refresh()
    qtbot.waitUntil(lambda: len(rows(tab)) == 5, timeout=10_000)
    r = rows(tab)
    assert "no config.json" in r["noconfig"].error
    assert "could be read" not in r["garbage"].error and "as records" in r["garbage"].error
    assert "'val_acc' must be" in r["nan"].error and r["nan"].best_val_acc == 0.8
    assert r["alpha"].error == ""
    select(tab, qtbot, "garbage", "alpha")  # plotting a broken run next to a good one
    qtbot.waitUntil(lambda: tab.overlay.visible_loss_curves() == 1, timeout=5_000)


def test_added_folder_outside_the_root_and_requests(tab, qtbot, tmp_path):
    elsewhere = make_run(tmp_path / "gpu-box" / "r9")
    (elsewhere / "best.pt").write_bytes(b"x")
    assert tab.add_folders([str(tmp_path / "gpu-box")]) == [elsewhere.resolve()]
    qtbot.waitUntil(lambda: tab.selected_paths() == [str(elsewhere.resolve())], timeout=10_000)
    with qtbot.waitSignal(tab.openCheckpointRequested) as opened:
        tab.open_checkpoint("best")
    assert opened.args == [str(elsewhere.resolve() / "best.pt")]
    with qtbot.waitSignal(tab.trainAgainRequested) as again:
        tab.train_again()
    assert again.args[0]["model_name"] == "cnn"
    with qtbot.waitSignal(tab.message) as message:
        tab.resume_selected()  # no last.pt: a message, not an exception
    assert "no last.pt" in message.args[1]


def test_form_values_from_a_run_config():
    from gui.run_settings_model import values_from_config

    config = {"data": {"name": "shapes", "train_count": 96, "image_size": 32}, "model_name": "mlp",
              "model_options": {"hidden": [64]}, "train": {"epochs": 5, "lr": 0.01, "seed": 3}}
    assert values_from_config(config) == {"dataset": "shapes", "train_count": 96, "model": "mlp", "epochs": 5,
                                   "lr": 0.01, "seed": 3, "image_size": 32, "model_options": {"hidden": [64]}}


def test_train_again_fills_the_run_settings(qtbot, app_settings, tmp_path):
    from gui.app import make_application
    from gui.window.main_window import MainWindow

    make_application()
    window = MainWindow(runs_root=tmp_path / "runs", settings=app_settings)
    qtbot.addWidget(window)
    window.follow_run(str(tmp_path / "followed"))  # the form shows that run's settings while it is followed
    window.runs_tab.trainAgainRequested.emit({"data": {"name": "shapes", "train_count": 96}, "model_name": "mlp",
                                              "train": {"epochs": 7, "lr": 0.02, "seed": 5,
                                                        "optimizer": "no-such-optimizer"}})  # Train again
    values = window.panel.values()
    assert (values["epochs"], values["seed"], values["model"]) == (7, 5, "mlp")
    assert float(values["lr"]) == 0.02 and window.tabs.currentIndex() == 0
    # ... and the filled form is on screen: train again ends following
    assert not window.controller.following and window.panel.shown_fields() is window.panel.own_fields
    window.close()


def test_a_flat_learning_rate_sits_in_a_sensible_range(qtbot):
    from gui.app import make_application
    from gui.training.plots import TrainingPlots

    make_application()
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    for step in range(1, 50):
        plots.add_losses([step], [1.0 / step], [1e-3])
    plots.redraw_if_dirty()
    low, high = plots.lr_plot.viewRange()[1]
    assert low < 1e-3 < high and high - low < 0.01


def test_debiased_ema_matches_tensorboard():
    from gui.plotting.smoothing import debiased_ema

    values = np.array([1.0, 2.0, np.nan, 3.0])
    smoothed, _ = debiased_ema(values, 0.5)
    # TensorBoard: last = 0.5 * last + 0.5 * v; shown = last / (1 - 0.5 ** n); NaN is skipped
    assert smoothed[0] == 1.0 and smoothed[1] == pytest.approx(1.25 / 0.75)
    assert np.isnan(smoothed[2]) and smoothed[3] == pytest.approx((1.25 * 0.5 + 1.5) / 0.875)


def test_window_has_the_runs_tab_and_follows_a_dropped_run_folder(qtbot, app_settings, tmp_path):
    from gui.app import create_window

    root = tmp_path / "runs"
    make_run(root / "local")
    remote = make_run(tmp_path / "mounted" / "cli-run")
    _, window = create_window(["--follow", str(tmp_path / "nowhere")], runs_root=root, settings=app_settings)
    qtbot.addWidget(window)
    tab = window.runs_tab
    # One folder not there yet: the Train tab waits for its run (`--follow DIR` before `train --out DIR`).
    assert window.tabs.currentWidget() is window.train_tab and window.controller.handle.folder == tmp_path / "nowhere"
    assert "Run Folder" in window.open_run_folder_action.text()
    qtbot.waitUntil(lambda: "local" in rows(tab) and "nowhere" in rows(tab), timeout=10_000)
    assert rows(tab)["nowhere"].status == "missing"
    window.route_drop([str(remote)])
    qtbot.waitUntil(lambda: "cli-run" in rows(tab), timeout=10_000)
    # One dropped run folder is also followed in the Train tab (plots, progress and log from its records).
    assert window.controller.handle.folder == remote and window.tabs.currentWidget() is window.train_tab
    qtbot.waitUntil(lambda: len(window.plots.epoch_val_acc) == 3, timeout=10_000)
    qtbot.waitUntil(lambda: tab.selected_paths() == [str(remote.resolve())], timeout=10_000)
    window.close()
    from gui.window.main_window import MainWindow

    again = MainWindow(runs_root=root, settings=app_settings)  # the added folder is remembered
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: "cli-run" in rows(again.runs_tab), timeout=10_000)
    again.close()


def test_monitor_command_opens_the_window_following_folders(monkeypatch):
    import gui.app
    from gui.cli import main

    seen = []
    monkeypatch.setattr(gui.app, "main", lambda argv: seen.append(argv) or 0)
    assert main(["monitor", "a", "b"]) == 0
    assert seen == [["--follow", "a", "--follow", "b"]]
    assert gui.app.parse_args(["--follow", "a", "--follow", "b"]).follow == ["a", "b"]


@pytest.mark.timeout(300)
def test_a_cli_run_is_followed_live_and_the_plots_end_with_its_records(tab, qtbot, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "elsewhere" / "cli-run"
    out.mkdir(parents=True)
    tab.add_folders([str(out)])
    qtbot.waitUntil(lambda: tab.selected_paths() == [str(out.resolve())], timeout=10_000)
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "train", "--shapes-count", "48", "--image-size", "16",
                             "--batch-size", "8", "--epochs", "2", "--device", "cpu", "--quiet", "--heartbeat-s",
                             "0.2", "--out", str(out)], env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        qtbot.waitUntil(lambda: rows(tab)["cli-run"].status in ("running", "evaluating", "finished"), timeout=120_000)
        assert proc.wait(timeout=240) == 0, proc.stderr.read().decode()
    finally:
        proc.kill() if proc.poll() is None else None
    qtbot.waitUntil(lambda: rows(tab)["cli-run"].status == "finished", timeout=10_000)
    written = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["loss"] for r in written if r["kind"] == "step"]
    curves = tab.curves[str(out.resolve())]
    qtbot.waitUntil(lambda: len(curves.val_acc) == 2 and len(curves.loss) == len(steps), timeout=10_000)
    assert curves.loss.y.tolist() == pytest.approx(steps)
    assert rows(tab)["cli-run"].epochs_text == "2 / 2" and rows(tab)["cli-run"].error == ""
    items = tab.overlay._runs[str(out.resolve())][1]
    qtbot.waitUntil(lambda: items.drawn_records == curves.records, timeout=5_000)
    assert len(items.raw.getData()[0]) == len(steps)


def test_overlay_downsamples_a_long_run_without_losing_its_spike_and_keeps_a_flat_lr_visible(qtbot, tmp_path):
    from gui.app import make_application
    from gui.runs.curves import RunCurves
    from gui.runs.overlay import RunsOverlay

    make_application()
    curves = RunCurves(tmp_path / "none")
    x = np.arange(1, 200_001, dtype=np.float64)
    y = 1.0 / np.sqrt(x)
    y[123_457] = 9.0
    curves.loss.extend(x, y)
    curves.lr.extend(x, np.full(x.size, 3e-4))
    curves.records = x.size
    overlay = RunsOverlay()
    qtbot.addWidget(overlay)
    overlay.resize(900, 600)
    overlay.show()
    overlay.set_runs([("r", "r", curves)])
    qtbot.waitExposed(overlay)
    items = overlay._runs["r"][1]
    overlay.loss_plot.setXRange(0, x.size, padding=0)
    qtbot.waitUntil(lambda: items.raw.getData()[1] is not None and len(items.raw.getData()[1]) < 20_000)
    assert np.max(items.raw.getData()[1]) == 9.0  # peak downsampling keeps the one spike
    low, high = overlay.lr_plot.viewRange()[1]
    assert low < 3e-4 < high and high - low < 1e-3


def test_a_growing_run_is_smoothed_incrementally_to_the_same_line_as_all_at_once(qtbot, tmp_path):
    from gui.app import make_application
    from gui.plotting.smoothing import debiased_ema
    from gui.runs.curves import RunCurves
    from gui.runs.overlay import RunsOverlay

    make_application()
    rng = np.random.default_rng(0)
    y = rng.random(3_000)
    y[1_500] = np.nan  # a NaN loss passes through the average without moving it
    curves = RunCurves(tmp_path / "none")
    curves.loss.extend(np.arange(1, 1_001, dtype=np.float64), y[:1_000])
    curves.records = 1_000
    overlay = RunsOverlay()
    qtbot.addWidget(overlay)
    overlay.set_runs([("r", "r", curves)])
    items = overlay._runs["r"][1]
    curves.loss.extend(np.arange(1_001, 3_001, dtype=np.float64), y[1_000:])
    curves.records = 3_000
    assert overlay.redraw_changed() == ["r"]
    assert items.smoothed[1] == 3_000  # only the 2,000 new points were smoothed on this redraw
    expected = debiased_ema(y, overlay.smoothing)[0]
    finite = np.isfinite(expected)
    np.testing.assert_allclose(items.smoothed[3][finite], expected[finite], rtol=1e-12)
    overlay.set_smoothing(0.9)  # a new weight smooths everything again
    np.testing.assert_allclose(items.smoothed[3][finite], debiased_ema(y, 0.9)[0][finite], rtol=1e-12)


def test_an_interrupted_run_is_offered_resume_in_the_runs_tab_and_the_train_tab(qtbot, window, runs_root,
                                                                               monkeypatch):
    """A run whose process vanished without a final record (kill -9, a crash, a power cut) is "interrupted" once
    silent for long, not "not responding" for ever; both tabs offer to resume it from its last.pt."""
    import os

    killed = make_run(runs_root / "killed", done=2, final=None)
    (killed / "last.pt").write_bytes(b"a checkpoint stands here")  # only its presence is looked at before Resume
    os.utime(killed / "metrics.jsonl", (1_000_000, 1_000_000))
    make_run(runs_root / "done")
    tab = window.runs_tab
    tab.refresh()
    qtbot.waitUntil(lambda: {"killed", "done"} <= set(rows(tab)), timeout=10_000)
    assert rows(tab)["killed"].status == "interrupted"
    select(tab, qtbot, "done")
    assert not tab.actions_by_name["resume"].isEnabled()  # a finished run has nothing to go on with
    select(tab, qtbot, "killed")
    qtbot.waitUntil(lambda: tab.actions_by_name["resume"].isEnabled(), timeout=5_000)
    row = tab.model.row_of(str(killed))
    tip = tab.model.index(row, 1).data(Qt.ItemDataRole.ToolTipRole)
    assert "Interrupted" in tip and "Resume" in tip

    asked = []
    monkeypatch.setattr(window.train_tab, "resume_run", lambda *args: asked.append(args))
    window.follow_run(str(killed))
    qtbot.waitUntil(lambda: window.panel.resume_run_button.isVisible(), timeout=10_000)
    assert "interrupted" in window.progress.status_label.text()
    assert window.progress.eta_label.text() == "–"  # no "Time left" counting down for a run that is gone
    assert window.panel.resume_run_action.isEnabled() and "Interrupted" in window.panel.resume_run_action.toolTip()
    window.panel.resume_run_button.click()
    qtbot.waitUntil(lambda: bool(asked), timeout=10_000)
    run, config, checkpoint = asked[0]
    assert run == str(killed) and checkpoint == str(killed / "last.pt") and config["model_name"] == "cnn"
