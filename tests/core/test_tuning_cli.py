"""`layerscope lr-find` and `layerscope sweep` end to end on tiny real runs: their files, their printout, their
refusals naming what is wrong."""
import json
import os

from core.cli.main import main
from core.runs.layout import LR_FIND_CSV, LR_FIND_JSON, RESULTS_CSV, SWEEP_FILE


def test_lr_find_writes_the_curve_and_prints_the_band(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "lr"
    rc = main(["lr-find", "--model", "mlp", "--hidden", "16", "--shapes-count", "64", "--image-size", "16",
               "--device", "cpu", "--steps", "20", "--out", str(out), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "suggested learning rates:" in printed
    assert (out / LR_FIND_CSV).is_file()
    band = json.loads((out / LR_FIND_JSON).read_text())
    assert band  # the summary names the band it printed


def test_lr_find_refuses_a_bad_range(tmp_path, capsys):
    rc = main(["lr-find", "--model", "mlp", "--start-lr", "1", "--end-lr", "0.1", "--out", str(tmp_path / "x"),
               "--quiet"])
    assert rc == 2
    assert "lr" in capsys.readouterr().err.lower()


def test_sweep_runs_its_trials_and_prints_the_best(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = {"name": "cli-tiny", "trials": 2, "sampler": "random", "seed": 1,
            "base": {"data": {"name": "shapes", "train_count": 32, "val_count": 16, "image_size": 16},
                     "model_name": "mlp", "model_options": {"hidden": [8]},
                     "train": {"epochs": 1, "batch_size": 16, "device": "cpu", "evaluate_at_end": False}},
            "params": {"lr": {"low": 1e-3, "high": 1e-1, "log": True}}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "best: trial" in printed
    assert (out / SWEEP_FILE).is_file() and len((out / RESULTS_CSV).read_text().splitlines()) == 3


def test_sweep_refuses_a_bad_definition_naming_it(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"name": "x", "params": {"lr": {"low": 0.1, "high": 0.01}}}))
    assert main(["sweep", str(path), "--out", str(tmp_path / "s"), "--quiet"]) == 2
    assert "below high" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "s" / SWEEP_FILE)


def test_sigterm_stops_the_sweep_requeues_its_trial_and_the_same_command_goes_on(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import optuna

    from core import exit_codes
    from core.runs.layout import SweepLayout
    from tests.conftest import REPO

    spec = {"name": "stop-me", "trials": 1, "sampler": "random", "seed": 1,
            "base": {"data": {"name": "shapes", "train_count": 320, "val_count": 16, "image_size": 16},
                     "model_name": "mlp", "model_options": {"hidden": [8]},
                     "train": {"epochs": 3, "batch_size": 8, "device": "cpu", "evaluate_at_end": False}},
            "params": {"lr": {"low": 1e-3, "high": 1e-1, "log": True}}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    out = tmp_path / "sweep"
    argv = [sys.executable, "-m", "core.cli", "sweep", str(path), "--out", str(out), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    sweep = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        metrics = SweepLayout(out).trial(0) / "metrics.jsonl"
        deadline = time.time() + 240
        while not (metrics.exists() and '"step"' in metrics.read_text()) and time.time() < deadline:
            assert sweep.poll() is None, sweep.communicate()
            time.sleep(0.2)
        sweep.send_signal(signal.SIGTERM)
        _, err = sweep.communicate(timeout=120)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == exit_codes.for_signal(signal.SIGTERM), err
    assert "queued again" in err
    study = optuna.load_study(study_name="stop-me", storage=f"sqlite:///{out / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["FAIL", "WAITING"]
    # The same command goes on: the queued trial runs with the same values and completes.
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="stop-me", storage=f"sqlite:///{out / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]
    assert study.trials[1].params == study.trials[0].params
