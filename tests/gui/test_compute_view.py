"""The Train tab's compute breakdown is drawn from the run's "compute" records only: a followed folder (a CLI
run, a torchrun job) shows each process's bar and verdict like the app's own run."""
from core.runs import records
from gui.log_panel import LogPanel
from gui.model_hub import ModelHub
from gui.run_settings_model import RunSettingsModel
from gui.training.compute_view import shares
from gui.training.tab import TrainTab


def _compute(rank, kind, text, data, compute, sync, step):
    return records.make("compute", wall_s=2.0, steps=10, data_share=data, compute_share=compute, sync_share=sync,
                        other_share=1 - data - compute - sync, verdict_kind=kind, verdict=text, rank=rank,
                        world_size=2, step=step, epoch=1, cpu_percent=97.0, rss_mb=800.0, workers=2,
                        workers_cpu_percent=180.0)


def test_a_followed_two_process_run_shows_each_process_bar_and_verdict(qtbot, tmp_path):
    log = LogPanel()
    qtbot.addWidget(log)
    tab = TrainTab(RunSettingsModel(), ModelHub(), log)
    qtbot.addWidget(tab)
    run = tmp_path / "ddp-run"
    run.mkdir()
    lines = [records.make("start", epochs=1, start_epoch=0, batches_per_epoch=20, total_steps=20, heartbeat_s=60),
             records.make("step", step=10, loss=1.2, epoch=1, batch=10),
             _compute(0, "compute-bound", "compute-bound: 80 % of each step computes", 0.1, 0.8, 0.05, 10),
             _compute(1, "data-bound", "data-bound: 62 % of each step waits for images: raise workers to 4",
                      0.62, 0.3, 0.05, 10)]
    (run / "metrics.jsonl").write_text("".join(records.encode(r) + "\n" for r in lines))
    assert not tab.compute_view.isVisibleTo(tab)
    tab.follow_run(str(run))
    qtbot.waitUntil(lambda: len(tab.compute_view.verdicts()) == 2, timeout=20_000)
    assert tab.compute_view.isVisibleTo(tab)
    assert tab.compute_view.verdicts()[1].startswith("data-bound: 62 % of each step waits for images")
    row = tab.compute_view.rows[1]
    assert "rank 1: " in row.verdict.text() and "data-bound" in row.verdict.text()
    assert row.bar.values == shares(lines[3]) and row.bar.values[0] == 0.62
    assert "2 loader workers" in row.resources.text() and "CPU 97 %" in row.resources.text()
    # A later record replaces its process's verdict; the run drawn anew clears them.
    with (run / "metrics.jsonl").open("a") as f:
        f.write(records.encode(_compute(1, "balanced", "balanced now", 0.2, 0.6, 0.1, 20)) + "\n")
    qtbot.waitUntil(lambda: tab.compute_view.verdicts()[1] == "balanced now", timeout=20_000)
    tab.record_view.reset(own_run=False)
    assert tab.compute_view.verdicts() == {} and not tab.compute_view.isVisibleTo(tab)
    tab.shutdown()
