"""Sweeps on Optuna with real trial processes: every trial is an ordinary run folder, a killed sweep goes on
where it stopped, two workers share one study without running a trial twice, poor trials are pruned."""
import json
import os
import subprocess
import sys
import time

import optuna
import pytest

from core.catalog import MODEL_NAMES
from core.runs.records import decode
from core.tuning.sweep import SweepSpec, SweepSpecError, load_spec, run_sweep
from core.progress import Reporter
from core.runs.layout import RESULTS_CSV, SWEEP_FILE, RunLayout, SweepLayout
from core.tuning.sweep.space import apply_params
from tests.conftest import REPO

TINY = {"data": {"name": "shapes", "train_count": 48, "val_count": 20, "image_size": 16},
        "model_name": "cnn", "model_options": {"channels": 4, "blocks": 2},
        "train": {"epochs": 1, "batch_size": 16, "device": "cpu", "evaluate_at_end": False}}
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # a crowded 2-core machine: one thread per trial


def tiny_spec(**fields) -> dict:
    return {"name": "tiny", "base": TINY, "params": {"lr": {"low": 1e-4, "high": 1e-1, "log": True}},
            "trials": 3, "sampler": "random", "seed": 1, **fields}


def kinds(run_dir) -> list[str]:
    return [decode(line).kind for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def study_of(sweep_dir, name="tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{sweep_dir / 'study.db'}")


# ---- the definition ------------------------------------------------------------------------------------
@pytest.mark.parametrize("params,words", [
    ({"lr": {"low": 1e-4, "high": 100.0}}, "outside"),  # the catalogue's limit is 10
    ({"lr": {"low": 0.1, "high": 0.01}}, "below high"),
    ({"weight_decay": {"low": 0.0, "high": 0.1, "log": True}}, "above 0"),
    ({"optimizer": {"low": 1, "high": 2}}, "choice, not a number"),
    ({"optimizer": ["adam", "rmsprop"]}, "not one of"),
    ({"batch_size": {"low": 8, "high": 64, "step": 2.5}}, "whole-number step"),
    ({"device": ["cpu"]}, "not a setting a sweep can vary"),
    ({"model.hidden_width": [8, 16]}, "none of the swept models"),  # the base network is a CNN
    ({}, "at least one setting"),
])
def test_a_bad_definition_is_refused_with_the_setting_named(params, words):
    with pytest.raises(SweepSpecError, match=words):
        SweepSpec.from_dict(tiny_spec(params=params))


def test_definition_fields_are_checked_and_the_grid_wants_lists(tmp_path):
    with pytest.raises(SweepSpecError, match="grid sampler needs a list"):
        SweepSpec.from_dict(tiny_spec(sampler="grid"))
    with pytest.raises(SweepSpecError, match="metric"):
        SweepSpec.from_dict(tiny_spec(metric="accuracy"))
    with pytest.raises(SweepSpecError, match="unknown field"):
        SweepSpec.from_dict(tiny_spec(trails=3))
    with pytest.raises(SweepSpecError, match="unknown training setting.*epoch"):
        SweepSpec.from_dict(tiny_spec(base={**TINY, "train": {"epoch": 3}}))
    with pytest.raises(SweepSpecError, match="Batch size"):
        SweepSpec.from_dict(tiny_spec(base={**TINY, "train": {"batch_size": 0}}))
    spec = SweepSpec.from_dict(tiny_spec(metric="val_loss", sampler="grid", params={"lr": [0.1, 0.01]}))
    assert spec.direction == "minimize" and spec.grid == {"lr": [0.1, 0.01]} and spec.grid_size() == 2
    path = tmp_path / "s.json"
    path.write_text(json.dumps(spec.to_dict()))
    assert load_spec(path) == spec
    path.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(SweepSpecError, match="s.json"):
        load_spec(path)
    with pytest.raises(SweepSpecError, match="folder"):
        load_spec(tmp_path)


def test_values_land_in_the_run_settings():
    settings = apply_params(TINY, {"lr": 0.01, "model.channels": 8, "data.train_count": 160})
    assert settings["train"]["lr"] == 0.01 and settings["train"]["epochs"] == 1
    assert settings["model_options"] == {"channels": 8, "blocks": 2}
    assert settings["data"]["train_count"] == 160 and settings["data"]["val_count"] == 20  # an eighth, at least 20
    assert TINY["train"].get("lr") is None  # the base is not changed
    mlp = apply_params(TINY, {"model": "mlp", "model.hidden_layers": 3, "model.hidden_width": 32,
                              "model.channels": 8})
    assert mlp["model_name"] == "mlp" and mlp["model_options"] == {"hidden": [32, 32, 32]}
    spec = SweepSpec.from_dict(tiny_spec(params={"model": list(MODEL_NAMES[:2]), "model.hidden_width": [8, 16],
                                                 "model.channels": {"low": 4, "high": 16, "step": 4}}))
    assert spec.params["model.channels"].integer


# ---- real sweeps ---------------------------------------------------------------------------------------
def test_a_sweep_of_three_tiny_trials_writes_three_run_folders(tmp_path):
    spec = SweepSpec.from_dict(tiny_spec())
    seen = []
    outcome = run_sweep(spec, tmp_path, parallel=2, env=ONE_THREAD, poll_s=0.2,
                        progress=Reporter(lambda done, total, message: seen.append((done, total))))
    assert [r["state"] for r in outcome.rows] == ["complete"] * 3 and outcome.message == ""
    for row in outcome.rows:
        run = SweepLayout(tmp_path).trial(row["trial"])
        assert str(run.resolve()) == row["run_dir"]
        assert kinds(run)[0] == "start" and kinds(run)[-1] == "end"  # an ordinary, finished run
        assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
        config = json.loads((run / "config.json").read_text())
        assert config["train"]["lr"] == pytest.approx(row["lr"])  # it trained with the trial's value
        knows = json.loads(RunLayout(run).trial_file.read_text())
        assert knows["trial"] == row["trial"] and knows["sweep"] == str(tmp_path.resolve())
        assert 0.0 <= row["value"] <= 1.0 and row["epochs"] == 1
    assert outcome.best["value"] == max(r["value"] for r in outcome.rows)
    assert seen and seen[-1][1] == 3 and max(done for done, _ in seen) <= 3
    lines = (tmp_path / RESULTS_CSV).read_text().splitlines()
    assert lines[0].startswith("trial,state,outcome,value,lr,") and len(lines) == 4
    assert json.loads((tmp_path / SWEEP_FILE).read_text())["spec"]["params"] == {
        "lr": {"low": 1e-4, "high": 1e-1, "log": True}}
    # Started again with the study complete: nothing more runs.
    again = run_sweep(spec, tmp_path, env=ONE_THREAD)
    assert len(again.rows) == 3


WORKER = """
import sys
from core.tuning.sweep import load_spec, run_sweep
run_sweep(load_spec(sys.argv[1]), sys.argv[2], parallel=int(sys.argv[3]), poll_s=0.2)
"""


def start_worker(spec: dict, sweep_dir, parallel=1) -> subprocess.Popen:
    path = sweep_dir.parent / f"{sweep_dir.name}-spec.json"
    path.write_text(json.dumps(spec))
    return subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(sweep_dir), str(parallel)], cwd=REPO,
                            env=ONE_THREAD, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition, timeout=240, what=""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_sweep_goes_on_where_it_stopped(tmp_path):
    sweep_dir = tmp_path / "sweep"
    worker = start_worker(tiny_spec(), sweep_dir)
    try:
        # Trial 0 done, trial 1 training (parallel=1): then the worker dies without a word.
        wait_for(lambda: (SweepLayout(sweep_dir).trial(1) / "metrics.jsonl").exists(), what="trial 1 to start training")
        trainer_pid = study_of(sweep_dir).trials[1].user_attrs["trainer_pid"]
    finally:
        worker.kill()
        worker.wait()
    outcome = run_sweep(SweepSpec.from_dict(tiny_spec()), sweep_dir, env=ONE_THREAD, poll_s=0.2)
    by_number = {r["trial"]: r for r in outcome.rows}
    assert by_number[0]["state"] == "complete"
    assert kinds(SweepLayout(sweep_dir).trial(0)).count("start") == 1, "a completed trial is kept, not run again"
    assert by_number[1]["state"] == "fail" and by_number[1]["outcome"] == "interrupted"
    retry = next(r for r in outcome.rows if r["retry_of"] == 1)
    assert retry["state"] == "complete" and retry["lr"] == by_number[1]["lr"]  # the same values, run again
    assert sum(r["state"] == "complete" for r in outcome.rows) == 3
    assert all(r["state"] in ("complete", "fail") for r in outcome.rows), "no trial is left running"
    wait_for(lambda: not _alive(trainer_pid), timeout=60, what="the orphaned trainer to stop")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def test_two_workers_on_one_study_never_run_the_same_trial(tmp_path):
    sweep_dir = tmp_path / "shared"
    spec = tiny_spec(trials=3)
    first = start_worker(spec, sweep_dir)
    second = start_worker(spec, sweep_dir)
    for worker in (first, second):
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err.decode()[-2000:]
    trials = study_of(sweep_dir).trials
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert 3 <= sum(t.state.name == "COMPLETE" for t in trials) <= 4  # each may start one more at the very end
    workers = {t.user_attrs["worker_pid"] for t in trials}
    assert workers == {first.pid, second.pid}, "both workers took trials"
    for t in trials:
        run = SweepLayout(sweep_dir).trial(t.number)
        assert kinds(run).count("start") == 1, f"trial {t.number} was run once"
        assert json.loads(RunLayout(run).trial_file.read_text())["trial"] == t.number


def _seed_running_first(grid: dict, first_value) -> int:
    """A seed whose grid order starts with `first_value` (asked through Optuna's public API)."""
    for seed in range(50):
        study = optuna.create_study(sampler=optuna.samplers.GridSampler(grid, seed=seed))
        if study.ask().suggest_categorical("lr", grid["lr"]) == first_value:
            return seed
    raise AssertionError("no seed found")


def test_a_poor_trial_is_pruned_with_sigint_and_keeps_its_last_checkpoint(tmp_path):
    # Enough epochs that the prune (decided after the first, sent as SIGINT, obeyed after a batch) lands before the
    # poor trial's end even on a fast machine: with 3 epochs of a tiny model it could finish first.
    epochs = 12
    base = {**TINY, "data": {**TINY["data"], "train_count": 192}, "train": {**TINY["train"], "epochs": epochs}}
    grid = {"lr": [0.003, 1e-8]}  # 1e-8: the weights never move, so its validation loss stays where it began
    spec = tiny_spec(base=base, params=grid, sampler="grid", seed=_seed_running_first(grid, 0.003), trials=2,
                     metric="val_loss", pruner="median", pruner_startup_trials=1, pruner_warmup_epochs=0)
    outcome = run_sweep(SweepSpec.from_dict(spec), tmp_path, env=ONE_THREAD, poll_s=0.2)
    good, poor = sorted(outcome.rows, key=lambda r: -r["lr"])
    assert good["state"] == "complete" and good["epochs"] == epochs
    assert poor["state"] == "pruned" and poor["outcome"] == "pruned" and poor["epochs"] < epochs
    run = SweepLayout(tmp_path).trial(poor["trial"])
    assert "stopped" in kinds(run) and (run / "last.pt").is_file()


def test_trials_that_keep_failing_stop_the_sweep_with_their_message(tmp_path):
    broken = {**TINY, "data": {"name": str(tmp_path / "no-such-folder")}}
    outcome = run_sweep(SweepSpec.from_dict(tiny_spec(base=broken, trials=6)), tmp_path / "s", parallel=2,
                        env=ONE_THREAD, poll_s=0.2)
    states = [r["state"] for r in outcome.rows]
    assert set(states) == {"fail"} and 3 <= len(states) <= 4  # the one already running when the third failed
    assert f"{len(states)} trials in a row failed" in outcome.message
    assert "no-such-folder: the folder does not exist" in outcome.message  # the trial's own words


def test_cancel_stops_the_running_trials_and_queues_them_again(tmp_path):
    def cancelled():
        return (SweepLayout(tmp_path).trial(0) / "metrics.jsonl").exists()

    from core.errors import Cancelled

    with pytest.raises(Cancelled):
        run_sweep(SweepSpec.from_dict(tiny_spec(trials=1)), tmp_path, env=ONE_THREAD, poll_s=0.2,
                  progress=Reporter(cancel=cancelled))
    trials = study_of(tmp_path).trials
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].params == trials[0].params
    # Stopped by SIGINT, not killed: the run wrote its own final record (and saved last.pt).
    assert kinds(SweepLayout(tmp_path).trial(0))[-1] in ("stopped", "end")


def test_what_a_person_types_becomes_the_definition():
    from core.tuning.sweep.space import param_from_text

    assert param_from_text("lr", "1e-4 .. 0.1 log") == {"low": 1e-4, "high": 0.1, "log": True}
    assert param_from_text("momentum", " 0.8..0.99 ") == {"low": 0.8, "high": 0.99, "log": False}
    assert param_from_text("batch_size", "16, 32,64") == [16, 32, 64]
    assert param_from_text("optimizer", "adam, sgd") == ["adam", "sgd"]
    for bad in ("", "1 .. x", "1 .. 2 lin"):
        with pytest.raises(SweepSpecError):
            param_from_text("lr", bad)
