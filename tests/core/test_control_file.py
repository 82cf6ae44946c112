"""RUN/control.json: pause and resume a run from outside its process (the multi-process case is in
test_distributed.py; here a one-process run in this process, as a CLI run is)."""
import os
import socket
import threading
import time

from core.runs import records
from core.runs.control import control_path, read_pause, write_control
from core.data import DataSpec
from core.training.session import RunSettings, prepare_trainer
from core.training.strategy import Strategy
from core.training.config import TrainConfig


def _records(run):
    path = run / "metrics.jsonl"
    return [records.decode(line) for line in path.read_text().splitlines()] if path.exists() else []


def _wait_for(predicate, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_read_pause_is_none_for_a_missing_or_foreign_file(tmp_path):
    assert read_pause(tmp_path) is None
    for text in ("", "{", "[true]", '{"pause": "yes"}'):
        control_path(tmp_path).write_text(text)
        assert read_pause(tmp_path) is None
    write_control(tmp_path, pause=True)
    assert read_pause(tmp_path) is True
    write_control(tmp_path, pause=False)
    assert read_pause(tmp_path) is False


def test_a_run_whose_control_file_says_pause_when_it_starts_waits_until_it_says_go_on(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    settings = RunSettings(data=DataSpec(train_count=48, val_count=16, image_size=12, seed=3), model_name="mlp",
                           model_options={"hidden": [8]},
                           train=TrainConfig(epochs=1, batch_size=8, device="cpu", heartbeat_s=0.05))
    trainer = prepare_trainer(settings, run, strategy=Strategy("cpu"))  # as the CLI does
    write_control(run, pause=True)  # after the run was set up: for this run
    fit = threading.Thread(target=trainer.fit)
    fit.start()
    try:
        paused = _wait_for(lambda: [r for r in _records(run) if r.kind == "paused"])[0]
        assert paused["step"] == 0 and trainer.paused
        _wait_for(lambda: [r for r in _records(run) if r.kind == "heartbeat" and r["state"] == "paused"])
        assert not [r for r in _records(run) if r.kind == "step"]
        write_control(run, pause=False)
        fit.join(timeout=60)
        assert not fit.is_alive()
    finally:
        trainer.stop()
        fit.join(timeout=60)
    kinds = [r.kind for r in _records(run)]
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("step") and kinds[-1] == "end"


def _settings(epochs=1, train_count=48):
    return RunSettings(data=DataSpec(train_count=train_count, val_count=16, image_size=12, seed=3), model_name="mlp",
                       model_options={"hidden": [8]},
                       train=TrainConfig(epochs=epochs, batch_size=8, device="cpu", heartbeat_s=0.05,
                                         report_interval_s=0.0))


def test_a_stop_in_the_control_file_stops_the_run_and_saves_it_and_the_file_goes(tmp_path):
    from core.runs.control import read_control

    run = tmp_path / "run"
    trainer = prepare_trainer(_settings(epochs=50), run, strategy=Strategy("cpu"))
    write_control(run, pause=True)  # paused first, so the stop lands mid-run
    fit = threading.Thread(target=trainer.fit)
    fit.start()
    try:
        _wait_for(lambda: [r for r in _records(run) if r.kind == "paused"])
        write_control(run, pause=True, stop=True)
        fit.join(timeout=60)
        assert not fit.is_alive()
    finally:
        trainer.stop()
        fit.join(timeout=60)
    assert _records(run)[-1].kind == "stopped" and (run / "last.pt").exists()
    assert read_control(run) is None  # a command was for that process; the next run starts clean


def test_a_stop_left_from_an_earlier_process_is_cleared_when_a_run_starts(tmp_path):
    from core.runs.control import read_control

    run = tmp_path / "run"
    run.mkdir()
    write_control(run, pause=False, stop=True)  # e.g. the run was killed before it read it
    trainer = prepare_trainer(_settings(), run, strategy=Strategy("cpu"))
    fit = threading.Thread(target=trainer.fit)
    fit.start()
    fit.join(timeout=120)
    assert not fit.is_alive()
    assert _records(run)[-1].kind == "end" and read_control(run) is None


# ---- a follower's pause is a lease -------------------------------------------------------------------------
class FakeRun:
    """What ControlWatch may ask of a run (core.training.callbacks.RunView), recorded."""

    def __init__(self):
        self.pause_wanted, self.asked = False, []

    def pause(self, reason=""):
        self.pause_wanted = True
        self.asked.append(("pause", reason))

    def resume(self, reason=""):
        self.pause_wanted = False
        self.asked.append(("resume", reason))

    def stop(self):
        self.asked.append(("stop", ""))


def _watch(run_dir):
    from core.training.run_control import ControlWatch

    now = [0.0]
    watch = ControlWatch(run_dir, interval_s=0.0, started_at=time.time() - 1, clock=lambda: now[0])
    said = []
    watch.on_warning = said.append
    return watch, now, said


def test_a_leased_pause_holds_while_renewed_and_lapses_when_its_follower_stops_renewing(tmp_path):
    from core.runs.control import who_asks

    watch, now, said = _watch(tmp_path)
    run, by = FakeRun(), f"the Layerscope window, {who_asks()}"
    write_control(tmp_path, pause=True, lease_s=30, by=by)
    watch.poll(run)
    assert run.asked == [("pause", f"paused by {by}")] and by.endswith(f"pid {os.getpid()} on {socket.gethostname()}")
    assert f"paused by {by} at " in said[0] and "30 s" in said[0]  # the CLI prints who and when
    for renewal in range(1, 5):  # renewed every 20 s: a minute and more later it is still paused
        now[0] = 20.0 * renewal
        write_control(tmp_path, pause=True, lease_s=30, by=by)
        watch.poll(run)
    assert run.pause_wanted and len(run.asked) == 1
    now[0] += 29.0
    watch.poll(run)
    assert run.pause_wanted
    now[0] += 2.0  # the follower died: 31 s without a renewal
    watch.poll(run)
    assert not run.pause_wanted and run.asked[-1][0] == "resume" and "lapsed" in run.asked[-1][1]
    assert "lapsed" in said[-1] and "Layerscope window" in said[-1]


def test_a_pause_without_a_lease_holds_until_the_file_changes(tmp_path):
    watch, now, said = _watch(tmp_path)
    run = FakeRun()
    write_control(tmp_path, pause=True, by="a script")  # no lease: a file written by hand, a job's own app
    watch.poll(run)
    now[0] = 3600.0
    watch.poll(run)
    assert run.asked == [("pause", "paused by a script")] and run.pause_wanted
    write_control(tmp_path, pause=False, by="a script")
    watch.poll(run)
    assert run.asked[-1] == ("resume", "resumed by a script") and not run.pause_wanted


def test_a_followers_pause_lapses_after_the_follower_dies(tmp_path):
    """A real `layerscope train` paused by a follower process that renews its lease; the follower is killed
    (a window that crashed): the run goes on by itself, and its output says who paused it and that it lapsed."""
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO

    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "LAYERSCOPE_HEARTBEAT_S": "0.2"}
    train = subprocess.Popen([sys.executable, "-m", "core.cli", "train", "--shapes-count", "64", "--image-size", "16",
                              "--epochs", "10000", "--batch-size", "16", "--model", "mlp", "--hidden", "8",
                              "--quiet", "--out", str(run)], cwd=REPO, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    follower = None
    try:
        _wait_for(lambda: [r for r in _records(run) if r.kind == "step"], 300)
        follower = subprocess.Popen([sys.executable, "-c", (
            "import os, sys, time\n"
            "from core.runs.control import write_control\n"
            "while True:\n"
            "    write_control(sys.argv[1], pause=True, lease_s=2.0, by='test follower, pid %d' % os.getpid())\n"
            "    time.sleep(0.2)\n"), str(run)], cwd=REPO, env=env)
        paused = _wait_for(lambda: [r for r in _records(run) if r.kind == "paused"], 120)[0]
        assert paused["reason"] == f"paused by test follower, pid {follower.pid}"
        # Renewed, it holds well past its lease: paused heartbeats 3 leases later, no "resumed".
        _wait_for(lambda: [r for r in _records(run) if r.kind == "heartbeat" and r["state"] == "paused"
                           and r["time"] > paused["time"] + 6.0], 120)
        assert not [r for r in _records(run) if r.kind == "resumed"]
        follower.send_signal(signal.SIGKILL)
        follower.wait(timeout=30)
        resumed = _wait_for(lambda: [r for r in _records(run) if r.kind == "resumed"], 120)[0]
        assert "lapsed" in resumed["reason"] and "test follower" in resumed["reason"]
        _wait_for(lambda: [r for r in _records(run) if r.kind == "step" and r["step"] > resumed["step"]], 120)
        train.send_signal(signal.SIGINT)
        out, _ = train.communicate(timeout=120)
    finally:
        for proc in (follower, train):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert train.returncode == 130
    assert "paused by test follower" in out and "lapsed: not renewed for 2 s" in out
