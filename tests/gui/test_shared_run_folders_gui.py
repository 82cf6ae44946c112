"""Shared run folders in the window (issue 18): a hostile run never empties the Runs tab, never blocks a
thread the window must join when it closes, never breaks the plots of a followed run, and what a rank file
says is shown as plain text, a few labels at most."""
from __future__ import annotations

import json
import os

import pytest
from PySide6.QtCore import Qt

from core.runs import records
from tests.core.test_run_index import make_run

pytestmark = pytest.mark.timeout(120)


def _hostile_runs(root):
    """A good run and runs whose small files hung the scan for ever or blanked the list."""
    make_run(root / "good")
    config = make_run(root / "fifo-config") / "config.json"
    config.unlink()
    os.mkfifo(config)
    os.mkfifo(make_run(root / "fifo-meta") / "run_meta.json")
    (make_run(root / "deep-config") / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with open(make_run(root / "version-null") / "metrics.jsonl", "a") as fh:
        fh.write('{"version": null, "kind": "start", "time": 2000, "epochs": 3, "start_epoch": 0, '
                 '"batches_per_epoch": 4, "total_steps": 12}\n')
    with open(make_run(root / "huge-int") / "metrics.jsonl", "a") as fh:
        fh.write('{"version": 1, "kind": "epoch", "time": 2000, "epoch": 4, "step": 1' + "0" * 400 +
                 ', "val_loss": 1, "val_acc": 0.5}\n')
    config = make_run(root / "zero-config") / "config.json"
    config.unlink()
    os.symlink("/dev/zero", config)
    return {"fifo-config": "config.json", "fifo-meta": "run_meta.json", "deep-config": "config.json",
            "zero-config": "config.json"}


def test_the_runs_tab_lists_every_run_beside_hostile_ones_and_its_threads_end(qtbot, tmp_path):
    from gui.app import make_application
    from gui.runs.tab import RunsTab

    root = tmp_path / "runs"
    named = _hostile_runs(root)
    make_application()
    tab = RunsTab(root)
    qtbot.addWidget(tab)
    tab.show()
    tab.start()
    try:
        qtbot.waitUntil(lambda: tab.model.rowCount() == 7, timeout=60_000)
        rows = {tab.model.summary(i).name: tab.model.summary(i) for i in range(tab.model.rowCount())}
        good = rows["good"]
        assert (good.status, good.epochs_done, good.best_val_acc, good.error) == ("finished", 3, 0.8, "")
        for name, file in named.items():
            assert file in rows[name].error, (name, rows[name].error)
        assert rows["version-null"].epochs_done == 3 and rows["huge-int"].epochs_done == 3  # the bad line skipped
    finally:
        tab.shutdown()
    # Nothing blocked in a FIFO: every thread of the tab has ended (the window would wait for them at exit).
    assert all(task.shutdown(timeout_ms=3_000) for task in (tab.scanner, tab.poller, tab.file_actions))


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


def test_a_followed_run_with_numbers_near_the_float_limits_draws_and_repaints(bare_window, qtbot, tmp_path):
    """1e300 broke every repaint, an integer beyond float range raised OverflowError on every poll: the
    decoder reads the first as null and skips the second line; the good records are drawn."""
    run = tmp_path / "run"
    run.mkdir()
    good = [records.make("start", epochs=2, start_epoch=0, batches_per_epoch=3, total_steps=6, heartbeat_s=60)]
    good += [records.make("step", step=s, epoch=1, loss=1.0 / s, lr=0.01) for s in (1, 2, 3)]
    lines = [records.encode(r) for r in good] + [
        '{"version": 1, "kind": "step", "time": 5, "step": 4, "epoch": 2, "loss": 1e300, "lr": 1e305}',
        '{"version": 1, "kind": "step", "time": 5, "step": 5, "epoch": 2, "loss": -1e300}',
        '{"version": 1, "kind": "step", "time": 5, "step": 1' + "0" * 400 + ', "loss": 1}',
        '{"version": 1, "kind": "epoch", "time": 6, "epoch": 1, "step": 3, "val_loss": 1e300, "val_acc": 0.5, '
        '"train_loss": 1e300, "train_acc": 0.4, "lr": 1e300}',
        records.encode(records.make("step", step=6, epoch=2, loss=0.1, lr=0.01)),
    ]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    window = bare_window
    assert window.follow_run(str(run))
    qtbot.waitUntil(lambda: window.record_view.records_shown == 8, timeout=20_000)
    plots = window.plots
    assert plots.step_loss.x.tolist()[:3] == [1, 2, 3] and plots.step_loss.x.tolist()[-1] == 6
    for _ in range(3):  # repaints: an exception in a paint event fails the test (pytest-qt)
        window.grab()
        qtbot.wait(50)


def test_the_rank_strip_shows_what_a_rank_file_says_as_plain_text_and_a_few_labels_at_most(qtbot):
    from gui.app import make_application
    from gui.training.rank_strip import MAX_SHOWN, RankStrip

    make_application()
    strip = RankStrip()
    qtbot.addWidget(strip)
    html = '<img src="file:///etc/passwd"><a href="https://example.com">click</a>'
    strip.show_ranks([{"rank": 0, "liveness": "running", "step": html, "pid": html, "host": html, "epoch": 1,
                       "message": html}])
    label = strip.labels[0]
    assert label.textFormat() == Qt.TextFormat.RichText and "<img" not in label.text().split("</span>", 1)[1]
    assert strip.texts() == [f"rank 0: running, step {html}"]
    assert "<img" not in label.toolTip() and "&lt;img" in label.toolTip()

    many = [{"rank": i, "liveness": "not responding" if i % 2 else "running", "step": 1} for i in range(20_000)]
    strip.show_ranks(many)
    assert len(strip.labels) == MAX_SHOWN
    assert strip.more.isVisibleTo(strip) and strip.more.text().startswith(f"and {20_000 - MAX_SHOWN} more processes")
    strip.show_ranks(many[:2])
    assert len(strip.labels) == 2 and not strip.more.isVisibleTo(strip)


def test_a_followed_run_with_20000_rank_files_shows_a_few_of_them(bare_window, qtbot, tmp_path):
    from gui.training.rank_strip import MAX_SHOWN

    run = make_run(tmp_path / "run", final=None)
    ranks = run / "ranks"
    ranks.mkdir()
    for i in range(20_000):
        (ranks / f"rank-{i}.json").write_text(json.dumps({"rank": i, "world_size": 20_000, "state": "running",
                                                          "step": 1, "epoch": 1, "time": 1.0}))
    window = bare_window
    assert window.follow_run(str(run))
    qtbot.waitUntil(lambda: len(window.rank_strip.texts()) == MAX_SHOWN, timeout=30_000)
    assert window.rank_strip.texts()[0].startswith("rank 0:")


@pytest.mark.parametrize("config", [
    {"version": 1, "data": {"name": ["a"], "image_size": "big", "augmentation": "x", "val_fraction": 1e300},
     "model_name": {"x": 1}, "model_options": [1, 2], "train": {"epochs": "many", "lr": [1], "batch_size": 1e300,
                                                               "seed": -1, "device": 7, "optimizer": None}},
    {"version": 1, "data": "shapes", "train": [1, 2, 3]},
    ["not", "an", "object"],
])
def test_a_followed_run_whose_settings_are_not_what_a_run_writes_still_shows_its_records(bare_window, qtbot,
                                                                                       tmp_path, config):
    run = make_run(tmp_path / "run")
    (run / "config.json").write_text(json.dumps(config))
    window = bare_window
    assert window.follow_run(str(run))
    qtbot.waitUntil(lambda: window.record_view.records_shown > 0, timeout=20_000)
    qtbot.wait(700)  # a few more polls: the settings are read with them
    window.grab()
