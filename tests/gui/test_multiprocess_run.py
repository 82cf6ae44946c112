"""The app's multi-process run (issue 9): the Train tab starts a 2-process gloo job, shows both processes,
draws its records, and Stop stops every process cleanly; closing the window can leave a run running."""
import json
import os
import time

import pytest

from core.runs.control import read_pause
from core.runs.rank_status import read_rank_statuses
from core.runs.reducer import LIVE

TWO_PROCESSES = {"dataset": "shapes", "train_count": 61, "image_size": 12, "model": "mlp",
                 "model_options": {"hidden": [16], "dropout": 0.0}, "epochs": 500, "batch_size": 8,
                 "schedule": "none", "device": "cpu", "seed": 3, "nproc": 2}


def words(text: str) -> tuple[str, bool]:
    """("rank N", whether its status word is a live one) of a rank strip line."""
    rank, status = text.split(",")[0].split(": ")
    return rank, status in LIVE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
def job_env(monkeypatch):
    """What the job's processes inherit: one thread each, fast heartbeats, a short process-group timeout."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("LAYERSCOPE_HEARTBEAT_S", "0.2")
    monkeypatch.setenv("LAYERSCOPE_PG_TIMEOUT_S", "15")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)


def _start_two_processes(window, qtbot):
    window.run_settings.update(TWO_PROCESSES)
    assert window.run_settings.get("nproc") == 2
    assert window.start_run(window.run_settings.build())
    controller = window.controller
    qtbot.waitUntil(lambda: controller.handle is not None, timeout=30_000)  # launched off the GUI thread
    assert controller.job.nproc == 2 and controller.job.running
    qtbot.waitUntil(lambda: [s.get("liveness") for s in controller.handle.ranks] == ["running", "running"],
                    timeout=120_000)
    return controller


@pytest.mark.timeout(300)
def test_the_app_runs_two_processes_shows_both_and_stops_them(window, qtbot, job_env):
    controller = _start_two_processes(window, qtbot)
    job = controller.job
    run_dir = controller.run_dir
    assert run_dir.parent == controller.runs_root
    texts = window.rank_strip.texts()
    assert [words(t) for t in texts] == [("rank 0", True), ("rank 1", True)]
    assert window.panel.stop_action.isEnabled()
    qtbot.waitUntil(lambda: len(window.plots.step_loss) > 0, timeout=60_000)  # the job's records reach the plots
    pids = [s["pid"] for s in read_rank_statuses(run_dir)]

    # Pause pauses every process through the job's control file; the strip shows them paused.
    assert window.panel.pause_action.isEnabled() and window.panel.pause_action.text() == "&Pause"
    window.panel.pause_action.trigger()
    assert controller.state == "paused" and window.panel.pause_action.text() == "&Resume"
    qtbot.waitUntil(lambda: read_pause(run_dir) is True, timeout=10_000)
    qtbot.waitUntil(lambda: [t.split(",")[0] for t in window.rank_strip.texts()] == ["rank 0: paused", "rank 1: paused"],
                    timeout=60_000)
    window.panel.pause_action.trigger()  # Resume
    assert controller.state == "running"
    qtbot.waitUntil(lambda: read_pause(run_dir) is False, timeout=10_000)
    qtbot.waitUntil(lambda: [words(t) for t in window.rank_strip.texts()] == [("rank 0", True), ("rank 1", True)],
                    timeout=60_000)
    window.panel.pause_action.trigger()  # paused again: Stop must still end it
    qtbot.waitUntil(lambda: [t.split(",")[0] for t in window.rank_strip.texts()] == ["rank 0: paused", "rank 1: paused"],
                    timeout=60_000)
    assert window.panel.stop_action.isEnabled()

    window.stop_training()
    qtbot.waitUntil(lambda: controller.state == "idle", timeout=120_000)
    assert controller.last_exit in (130, 143)
    assert not job.running and controller.handle is None
    assert (run_dir / "last.pt").exists()
    assert {s["state"] for s in read_rank_statuses(run_dir)} == {"stopped"}
    assert [t.split(",")[0] for t in window.rank_strip.texts()] == ["rank 0: stopped", "rank 1: stopped"]
    assert window.record_view.records_shown > 0
    assert not any(_alive(pid) for pid in pids)
    assert window.panel.pause_action.isEnabled() is False and window.panel.train_action.isEnabled()
    # The stopped job's last.pt reaches the model hub (weights only), so the inspector shows its weights.
    assert window.hub.current().model_spec.name == "mlp" and window.hub.current().training_state is None


def test_closing_asks_and_cancel_keeps_the_window_and_leave_keeps_the_run(window, qtbot, tmp_path, app_settings):
    """The close decision on this window's run: Cancel keeps the window open, Leave closes it without signalling
    the run's process, which a later window follows from its run folder."""
    import subprocess
    import sys

    from core.runs import records
    from core.processes.job import TrainJob
    from gui.window.main_window import MainWindow
    from gui.training import close_job

    run_dir = tmp_path / "left-running"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text("".join(records.encode(r) + "\n" for r in (
        records.make("start", epochs=9, start_epoch=0, batches_per_epoch=2, total_steps=18),
        records.make("heartbeat", state="running"))))
    (run_dir / "ranks").mkdir()
    for rank in (0, 1):
        (run_dir / "ranks" / f"rank-{rank}.json").write_text(json.dumps(
            {"rank": rank, "world_size": 2, "state": "running", "step": 7, "epoch": 1, "pid": 1, "host": "h",
             "time": time.time() + 3600}))  # fresh for the whole test
    # A stand-in job process: what matters is whether the window signals it.
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        controller = window.controller
        controller.watch(TrainJob(process, run_dir, nproc=2), started_after=0)
        qtbot.waitUntil(lambda: controller.state == "running", timeout=10_000)
        assert window.panel.pause_action.isEnabled()
        asked = []
        window.ask_close_job = lambda parent, where: asked.append(where) or close_job.CANCEL
        assert not window.close()
        assert window.isVisible() and controller.is_active() and controller.job.running
        window.ask_close_job = lambda parent, where: asked.append(where) or close_job.LEAVE
        assert window.close()
        assert asked == [run_dir, run_dir]
        assert process.poll() is None, "leaving the run running must not stop it"
        assert controller.handle is None and controller.state == "idle" and not controller.is_active()
        # Followed again later, by another window, from its run folder alone.
        later = MainWindow(runs_root=tmp_path / "runs", settings=app_settings)
        qtbot.addWidget(later)
        assert later.follow_run(str(run_dir))
        qtbot.waitUntil(lambda: later.record_view.records_shown == 2, timeout=10_000)
        qtbot.waitUntil(lambda: len(later.rank_strip.texts()) == 2, timeout=10_000)  # its processes too
        assert later.rank_strip.texts() == ["rank 0: running, step 7", "rank 1: running, step 7"]
        later.controller.shutdown()
    finally:
        process.kill()
        process.wait()


def test_processes_is_a_train_tab_setting_remembered_with_the_form(qtbot):
    from gui.run_settings_model import FORM_KEYS, OWNERS, RunSettingsModel
    from gui.training.form import TrainingPanel

    model = RunSettingsModel()
    panel = TrainingPanel(model)
    qtbot.addWidget(panel)
    assert OWNERS["nproc"] == "train" and "nproc" in FORM_KEYS
    assert model.get("nproc") == 1
    panel.processes.setValue(3)
    assert model.get("nproc") == 3
    assert "global" in panel.processes.toolTip()
    model.update({"nproc": 0})  # below the catalogue's minimum: skipped
    assert model.get("nproc") == 3 and panel.processes.value() == 3


def test_a_job_that_fails_is_reported_with_its_error_record(window, qtbot, tmp_path):
    import subprocess
    import sys

    from core.runs import records
    from core.processes.job import TrainJob

    run_dir = tmp_path / "failed-job"
    run_dir.mkdir()
    error = records.make("error", message="rank 1 exited with status 1: boom", epoch=1, step=3)
    (run_dir / "metrics.jsonl").write_text(records.encode(error) + "\n")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    failures = []
    window.controller.runFailed.connect(failures.append)
    window.controller.watch(TrainJob(process, run_dir, nproc=2), started_after=0)  # its record is this run's
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=10_000)
    assert window.controller.last_exit == 1
    assert failures == ["rank 1 exited with status 1: boom"]
    assert window.last_message_box.text() == failures[0]
