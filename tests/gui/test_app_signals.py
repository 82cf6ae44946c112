"""SIGTERM (a logout, `kill APP_PID`) and SIGINT to the app mid-run: the app stops its run after the batch, the
run saves last.pt and its final record, its process ends, and the app exits 128 + the signal. The app is a real
`layerscope` process here (the same event loop as `gui.app.main`), started with a tiny run."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

APP = """
import sys
from PySide6.QtCore import QSettings
from gui.app import create_window, run_event_loop
from gui.settings import AppSettings

runs, run, ini = sys.argv[1:4]
app, window = create_window([], runs_root=runs, settings=AppSettings(QSettings(ini, QSettings.Format.IniFormat)))

def start():
    window.run_settings.update({"dataset": "shapes", "train_count": 96, "model": "mlp", "epochs": 500,
                                "batch_size": 16, "lr": "0.003", "optimizer": "adam", "schedule": "none",
                                "seed": 0, "device": "cpu"})
    window.start_run(window.run_settings.build(), run_dir=run)

window.engineReady.connect(start)
sys.exit(run_event_loop(app, window))
"""


def _records(run):
    path = run / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(predicate, timeout_s: float, what: str, proc):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        assert proc.poll() is None, f"the app exited ({proc.returncode}) while waiting for {what}"
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_app_mid_run_stops_the_run_with_last_pt_and_a_final_record(tmp_path, sig):
    run, script, log = tmp_path / "runs" / "run", tmp_path / "app.py", tmp_path / "app.log"
    script.write_text(APP)
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    with open(log, "w") as out:
        app = subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs"), str(run),
                                str(tmp_path / "settings.ini")], cwd=REPO, env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    child = None
    try:
        start = _wait_for(lambda: [r for r in _records(run) if r["kind"] == "start"], 300, "the run's start", app)[0]
        child = start["pid"]
        _wait_for(lambda: [r for r in _records(run) if r["kind"] == "step"], 120, "the run's steps", app)
        app.send_signal(sig)
        code = app.wait(timeout=180)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)
    output = log.read_text()
    assert code == 128 + sig, output
    assert "Traceback" not in output, output
    final = _records(run)[-1]
    assert final["kind"] == "stopped", final  # its final record: stopped after the batch, resumable
    from core.checkpoints.checkpoint import load_checkpoint

    saved = load_checkpoint(run / "last.pt")
    assert saved.training_state["step"] == final["step"]  # last.pt holds the position it stopped at
    assert not _alive(child)  # the run's process ended with the app
