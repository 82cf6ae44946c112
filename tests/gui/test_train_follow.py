"""The Train tab driven by run records: a run that a CLI process writes, followed by the window, ends with
exactly the records the process wrote; a killed writer reads as not responding; the app's own run takes the
same record path."""
import json
import os
import signal
import subprocess
import sys

import pytest

from core.runs import records
from tests.conftest import REPO


def cli_train(out, *extra):
    return subprocess.Popen([sys.executable, "-m", "core.cli", "train", "--shapes-count", "48", "--image-size", "16",
                             "--batch-size", "8", "--device", "cpu", "--quiet", "--out", str(out), *extra],
                            env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def bare_window(qtbot, app_settings, runs_root):
    """The window without the engine: following a run needs no PyTorch."""
    from gui.app import make_application
    from gui.window.main_window import MainWindow

    make_application()
    w = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.controller.shutdown()


def written(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def written_records(out):
    lines = []
    for line in (out / "metrics.jsonl").read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass
    return lines


@pytest.mark.timeout(300)
def test_a_cli_run_followed_in_the_train_tab_ends_with_exactly_its_records(bare_window, qtbot, tmp_path):
    window = bare_window
    out = tmp_path / "cli-run"  # not there yet
    # Followed before the run starts: the window waits for the folder (--follow DIR, then start the run).
    statuses = []
    window.controller.statusChanged.connect(statuses.append)
    assert window.follow_run(str(out))
    assert window.tabs.currentWidget() is window.train_tab
    assert "waiting for the run to start" in window.progress.status_label.text()
    proc = cli_train(out, "--epochs", "2", "--heartbeat-s", "0.2")
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=240_000)  # the window keeps polling meanwhile
        assert proc.returncode == 0, proc.stderr.read().decode()
    finally:
        proc.kill() if proc.poll() is None else None
    qtbot.waitUntil(lambda: window.controller.handle.status == "finished", timeout=10_000)
    lines = written(out)
    steps = [r for r in lines if r["kind"] == "step"]
    epochs = [r for r in lines if r["kind"] == "epoch"]
    plots = window.plots
    assert window.record_view.records_shown == len(lines)
    assert plots.step_loss.x.tolist() == [r["step"] for r in steps]
    assert plots.step_loss.y.tolist() == pytest.approx([r["loss"] for r in steps])
    assert plots.step_lr.y.tolist() == pytest.approx([r["lr"] for r in steps])
    assert plots.epoch_val_acc.y.tolist() == pytest.approx([r["val_acc"] for r in epochs])
    assert plots.epoch_train_loss.y.tolist() == pytest.approx([r["train_loss"] for r in epochs])
    best = max(epochs, key=lambda r: r["val_acc"])["epoch"]
    assert plots.best_epoch == best and plots.best_lines[0].value() == best
    assert window.progress.run_bar.value() == 1000 and "finished" in window.progress.status_label.text()
    log = window.log.text()
    assert "Epoch 1:" in log and "Epoch 2:" in log and "Run finished after 2 epochs" in log
    assert statuses[0] == "waiting" and statuses[-1] == "finished"
    assert "gone" not in log  # a file not written yet is not reported as deleted


@pytest.mark.timeout(300)
def test_a_killed_writer_reads_as_not_responding(bare_window, qtbot, tmp_path):
    window = bare_window
    out = tmp_path / "long-run"
    out.mkdir()
    proc = cli_train(out, "--epochs", "200", "--heartbeat-s", "0.2")
    try:
        qtbot.waitUntil(lambda: (out / "metrics.jsonl").exists(), timeout=120_000)
        window.follow_run(str(out))
        qtbot.waitUntil(lambda: len(window.plots.step_loss) > 0, timeout=120_000)
        assert window.controller.handle.status in ("running", "evaluating")
        proc.send_signal(signal.SIGKILL)  # no final record, no more heartbeats
        proc.wait(timeout=30)
    finally:
        proc.kill() if proc.poll() is None else None
    qtbot.waitUntil(lambda: window.controller.handle.status == "not responding", timeout=10_000)
    assert "not responding" in window.progress.status_label.text()


def test_own_run_and_followed_file_take_the_same_record_path(bare_window):
    """The records a run writes, shown directly: plots, progress and log from records alone."""
    window = bare_window
    window.record_view.reset(own_run=False)
    batch = [records.make("start", epochs=2, start_epoch=0, batches_per_epoch=2, total_steps=4, device="cpu",
                          train_size=16, val_size=4),
             records.make("step", step=1, epoch=1, batch=1, loss=1.0, lr=0.1),
             records.make("step", step=2, epoch=1, batch=2, loss=0.5, lr=0.1, images_per_sec=123.0, elapsed_s=2.0,
                          eta_s=2.0, epochs=2, batches_per_epoch=2, total_steps=4),
             records.make("epoch", epoch=1, step=2, val_loss=0.7, val_acc=0.5, train_loss=0.8, train_acc=0.4, lr=0.1)]
    window.record_view.show(batch)
    plots, progress = window.plots, window.progress
    assert plots.step_loss.y.tolist() == [1.0, 0.5] and plots.epoch_val_acc.y.tolist() == [0.5]
    assert progress.run_bar.value() == 500 and "123 images/s" in progress.speed_label.text()
    assert "Epoch 1/2: batch 2/2" in progress.epoch_bar.format()
    assert "Epoch 1: train loss 0.8000" in window.log.text()
    # A resume after step 1: the steps and epochs past it are written again, not kept twice.
    window.record_view.show([records.make("resume", epoch=0, step=1, batch=1),
                             records.make("step", step=2, epoch=1, batch=2, loss=0.25, lr=0.1)])
    assert plots.step_loss.x.tolist() == [1.0, 2.0] and plots.step_loss.y.tolist() == [1.0, 0.25]
    assert len(plots.epoch_val_acc) == 0 and plots.best_epoch is None


def test_export_metrics_csv_and_plots_png_svg(bare_window, qtbot, tmp_path):
    import csv

    from tests.core.test_run_index import make_run

    window = bare_window
    run = make_run(tmp_path / "r1")
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write("garbage line\n")  # skipped, as a follower skips it
    lines = [r for r in written_records(run) if r["kind"] in ("step", "epoch")]
    window.follow_run(str(run))
    qtbot.waitUntil(lambda: len(window.plots.epoch_val_acc) > 0, timeout=10_000)
    window.train_exports.export_csv(window, window.shown_run_dir(), str(tmp_path / "m.csv"))
    qtbot.waitUntil(lambda: "rows of metrics" in window.log.text(), timeout=10_000)
    rows = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert len(rows) == len(lines) and [r["kind"] for r in rows] == [r["kind"] for r in lines]
    assert float(rows[-1]["val_acc"]) == pytest.approx([r for r in lines if r["kind"] == "epoch"][-1]["val_acc"])
    window.train_exports.export_plots(window, str(tmp_path / "plots.png"))
    window.train_exports.export_plots(window, str(tmp_path / "plots.svg"))
    assert (tmp_path / "plots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "plots.svg").read_bytes()[:2000]
    # The Runs tab's overlay too.
    tab = window.runs_tab
    tab.add_folders([str(run)])
    qtbot.waitUntil(lambda: tab.selected_paths() == [str(run.resolve())], timeout=10_000)
    tab.export_plots(str(tmp_path / "overlay.svg"))
    tab.export_csv(str(tmp_path / "overlay.csv"))
    qtbot.waitUntil(lambda: (tmp_path / "overlay.csv").exists() and "rows of metrics" in window.log.lines[-1][1],
                    timeout=10_000)
    assert b"<svg" in (tmp_path / "overlay.svg").read_bytes()[:2000]
    assert len(list(csv.DictReader((tmp_path / "overlay.csv").open()))) == len(lines)


def test_a_folder_followed_before_it_exists_is_shown_once_its_run_starts_and_again_when_made_anew(
        bare_window, qtbot, tmp_path):
    """`layerscope --follow DIR` first, `layerscope train --out DIR` later: the Train tab waits for the folder,
    then draws its run without the user doing anything; a folder deleted and made again is a new run."""
    import shutil

    from tests.core.test_run_index import make_run

    window = bare_window
    out = tmp_path / "later" / "run"  # not even its parent exists yet
    window.follow_folders([str(out)])  # what `--follow DIR` does
    assert window.controller.handle.folder == out and window.tabs.currentWidget() is window.train_tab
    qtbot.waitUntil(lambda: window.controller.handle.status == "waiting", timeout=10_000)
    assert f"waiting for the run to start in {out}" in window.progress.status_label.text()
    make_run(out, epochs=3, done=2, final=None)
    qtbot.waitUntil(lambda: len(window.plots.epoch_val_acc) == 2, timeout=10_000)
    assert window.plots.step_loss.x.tolist() == list(range(1, 9))
    assert window.plots.epoch_val_acc.y.tolist() == [0.5, 0.8]
    assert "gone" not in window.log.text()  # not written yet is waiting, not deleted
    shutil.rmtree(out)
    qtbot.waitUntil(lambda: window.controller.handle.status == "waiting", timeout=10_000)
    assert "waiting for the run to start" in window.progress.status_label.text()
    make_run(out, epochs=1, done=1, steps_per_epoch=3)  # another run in the same place: drawn from its start
    qtbot.waitUntil(lambda: window.controller.handle.status == "finished", timeout=10_000)
    assert window.plots.step_loss.x.tolist() == [1, 2, 3] and window.plots.epoch_val_acc.y.tolist() == [0.5]
    assert window.record_view.records_shown == len(written(out))


def test_the_form_shows_a_followed_runs_settings_read_only_and_the_users_own_again_after(window, qtbot, tmp_path):
    """While following, the Train tab's form shows that run's config.json, not the app's settings, and cannot
    edit it; the shared settings model (and what the user typed) is never touched, and comes back after."""
    from PySide6.QtTest import QTest

    from core import catalog
    from tests.core.test_run_index import make_run

    panel, model = window.panel, window.run_settings
    panel.lr.clear()
    QTest.keyClicks(panel.lr, "0.0042")  # typed by the user, as the Train tab's own value
    assert model.get("lr") == "0.0042" and model.get("model") == "cnn" and model.get("epochs") == 2
    run = make_run(tmp_path / "their-run", epochs=7, model="mlp")
    config = json.loads((run / "config.json").read_text())
    config["train"].update(optimizer="sgd", batch_size=48, seed=11)
    (run / "config.json").write_text(json.dumps({"version": 1, **config}))
    changes = []
    model.changed.connect(lambda key, value: changes.append(key))
    assert window.follow_run(str(run))
    qtbot.waitUntil(lambda: panel.shown_fields() is panel.followed_fields is not None, timeout=10_000)
    shown = panel.followed_fields
    assert (shown.epochs.value(), shown.lr.text(), shown.optimizer.currentText()) == (7, "0.01", "sgd")
    assert (shown.batch_size.value(), shown.seed.value()) == (48, 11)
    assert catalog.MODELS["mlp"].title in shown.model_link.text()
    assert "change in" not in shown.model_link.text() and "change in" in panel.own_fields.model_link.text()
    assert panel.follow_banner.isVisible() and "Following <b>their-run</b> — settings of that run" in \
        panel.follow_banner.text()
    assert shown.isVisible() and not panel.own_fields.isVisible()
    assert not shown.epochs.isEnabled() and not shown.lr.isEnabled() and not shown.model_link.isEnabled()
    assert not panel.train_action.isEnabled()  # Train would run other settings than the ones on screen
    qtbot.waitUntil(lambda: len(window.plots.epoch_val_acc) == 3, timeout=10_000)
    assert changes == [] and model.get("lr") == "0.0042" and model.get("epochs") == 2  # the user's, untouched
    panel.follow_banner.linkActivated.emit("stop")  # "Stop following"
    assert not window.controller.following and not panel.follow_banner.isVisible()
    assert panel.own_fields.isVisible() and panel.shown_fields() is panel.own_fields
    assert (panel.lr.text(), panel.epochs.value(), model.get("model")) == ("0.0042", 2, "cnn")
    assert panel.lr.isEnabled() and panel.train_action.isEnabled()
    assert len(window.plots.epoch_val_acc) == 3 and window.shown_run_dir() == run  # what it drew stays


def test_a_followed_runs_settings_show_once_written_and_a_newer_config_says_so(bare_window, qtbot, tmp_path):
    from tests.core.test_run_index import make_run

    window, panel = bare_window, bare_window.panel
    out = tmp_path / "later"
    assert window.follow_run(str(out))
    assert panel.follow_banner.isVisible() and panel.shown_fields() is None
    assert "once the run writes its config.json" in panel.followed_note.text()
    make_run(out, epochs=9)
    qtbot.waitUntil(lambda: panel.shown_fields() is panel.followed_fields is not None, timeout=10_000)
    assert panel.followed_fields.epochs.value() == 9
    (out / "config.json").write_text(json.dumps({"version": 99, "train": {"epochs": 4}}))
    qtbot.waitUntil(lambda: panel.shown_fields() is None, timeout=10_000)
    assert "newer Layerscope" in panel.followed_note.text()


@pytest.mark.timeout(300)
def test_a_followed_cli_run_is_paused_resumed_and_stopped_from_the_window_through_its_control_file(
        bare_window, qtbot, tmp_path):
    window, panel = bare_window, bare_window.panel
    out = tmp_path / "cli-run"
    assert window.follow_run(str(out))
    assert not panel.pause_action.isEnabled()  # nothing runs yet
    proc = cli_train(out, "--epochs", "200", "--heartbeat-s", "0.2")
    try:
        qtbot.waitUntil(lambda: len(window.plots.step_loss) > 0, timeout=120_000)
        assert panel.pause_action.isEnabled() and panel.stop_action.isEnabled()
        panel.pause_action.trigger()
        qtbot.waitUntil(lambda: window.controller.handle.status == "paused", timeout=20_000)
        assert panel.pause_action.text() == "&Resume"
        steps = len([r for r in written_records(out) if r["kind"] == "step"])
        beats = len([r for r in written_records(out) if r["kind"] == "heartbeat"])
        qtbot.waitUntil(lambda: len([r for r in written_records(out) if r["kind"] == "heartbeat"]) >= beats + 3,
                        timeout=20_000)
        assert len([r for r in written_records(out) if r["kind"] == "step"]) == steps  # no step while paused
        panel.pause_action.trigger()
        qtbot.waitUntil(lambda: len([r for r in written_records(out) if r["kind"] == "step"]) > steps,
                        timeout=60_000)
        qtbot.waitUntil(lambda: window.controller.handle.status in ("running", "evaluating"), timeout=10_000)
        assert panel.pause_action.text() == "&Pause"
        panel.stop_action.trigger()
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=120_000)
    finally:
        proc.kill() if proc.poll() is None else None
    qtbot.waitUntil(lambda: window.controller.handle.status == "stopped", timeout=10_000)
    assert written_records(out)[-1]["kind"] == "stopped" and (out / "last.pt").exists()
    assert not panel.pause_action.isEnabled() and not panel.stop_action.isEnabled()
    assert "Asked cli-run to stop" in window.log.text()
