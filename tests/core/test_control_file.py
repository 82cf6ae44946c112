"""RUN/control.json: pause and resume a run from outside its process (the multi-process case is in
test_distributed.py; here a one-process run in this process, as a CLI run is)."""
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


def test_a_run_started_with_pause_in_its_control_file_waits_until_it_says_go_on(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_control(run, pause=True)
    settings = RunSettings(data=DataSpec(train_count=48, val_count=16, image_size=12, seed=3), model_name="mlp",
                           model_options={"hidden": [8]},
                           train=TrainConfig(epochs=1, batch_size=8, device="cpu", heartbeat_s=0.05))
    trainer = prepare_trainer(settings, run, strategy=Strategy("cpu"))  # as the CLI does
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
    write_control(run, pause=True)  # paused first, so the stop lands mid-run
    trainer = prepare_trainer(_settings(epochs=50), run, strategy=Strategy("cpu"))
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
