"""Settings files and a checkpoint's stored config are held to the catalogue's limits, exactly as the CLI's
options are; a settings file is read as untrusted; and a multi-process run started the way the app starts it
(`train --settings S --nproc 2`) trains on an image folder."""
from __future__ import annotations

import json
import os

import pytest
import torch

from core.cli.main import main
from core.settings_limits import run_settings_problems
from tests.core.evalkit import train_tiny_run, write_shapes_folder
from tests.core.hostile_files import fifo, sparse_file

pytestmark = pytest.mark.timeout(300)

GOOD = {"data": {"name": "shapes", "train_count": 40, "val_count": 20, "image_size": 16},
        "model_name": "mlp", "model_options": {"hidden": [8], "dropout": 0.0},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu", "heartbeat_s": 2.0}}


def with_value(part: str, key: str, value) -> dict:
    values = json.loads(json.dumps(GOOD))
    values.setdefault(part, {})[key] = value
    return values


@pytest.mark.parametrize("values, named", [
    (with_value("train", "heartbeat_s", 1e-9), "train.heartbeat_s"),
    (with_value("train", "num_workers", 500), "train.num_workers"),
    (with_value("train", "batch_size", "16"), "train.batch_size"),
    (with_value("train", "lr", 0), "train.lr"),
    (with_value("train", "report_interval_s", -1), "train.report_interval_s"),
    (with_value("train", "amp", "yes"), "train.amp"),
    (with_value("train", "probe_images", ["a.png"] * 1000), "train.probe_images"),
    (with_value("data", "image_size", 1_000_000), "data.image_size"),
    (with_value("data", "train_count", 10**9), "data.train_count"),
    (with_value("data", "val_count", 10**9), "data.val_count"),
    (with_value("data", "std", [0, 1, 1]), "data.std"),
    (with_value("data", "augmentation", {"rotation_degrees": 1e6}), "data.augmentation.rotation_degrees"),
    (with_value("model_options", "hidden", [10**7]), "model_options.hidden[0]"),
    (with_value("model_options", "dropout", 5), "model_options.dropout"),
    ({**GOOD, "model_name": "gpt"}, "model_name"),
    ({**GOOD, "train": [1]}, "train"),
])
def test_out_of_range_settings_are_named_by_their_place(values, named):
    problems = run_settings_problems(values)
    assert problems and any(p.startswith(named) for p in problems), problems


def test_good_settings_pass():
    assert run_settings_problems(GOOD) == []


def settings_file(tmp_path, values) -> str:
    path = tmp_path / "S.json"
    path.write_text(json.dumps(values))
    return str(path)


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text(json.dumps(with_value("train", "heartbeat_s", 1e-9))), "train.heartbeat_s"),
    (lambda p: p.write_text(json.dumps(with_value("train", "num_workers", 500))), "Loader workers: 500 is outside"),
    (lambda p: p.write_text('{"train": {"epochs": 1' + "0" * 400 + "}}"), "number"),
    (lambda p: p.write_text('{"train": ' + "[" * 100_000 + "]" * 100_000 + "}"), "nested"),
    (lambda p: p.write_text('{"train": {"lr": NaN}}'), "number"),
    (lambda p: p.write_text("[1, 2]"), "must be an object"),
    (lambda p: fifo(p), "named pipe"),
    (lambda p: sparse_file(p, 2 * 2**30), "limit"),
    (lambda p: os.symlink("/dev/zero", p), "a device"),
])
def test_train_refuses_a_hostile_settings_file_with_the_usage_exit_code(tmp_path, capsys, make, words):
    path = tmp_path / "S.json"
    make(path)
    assert main(["train", "--settings", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and words in err, err
    assert "unexpected" not in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_checkpoints_stored_config_goes_through_the_same_limits_on_resume(tmp_path, capsys):
    run = train_tiny_run(tmp_path / "run", epochs=1, evaluate_at_end=False, image_size=16)
    payload = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    payload["training_state"]["config"]["num_workers"] = 500
    payload["training_state"]["config"]["heartbeat_s"] = 1e-9
    torch.save(payload, tmp_path / "crafted.pt")
    code = main(["train", "--resume", str(tmp_path / "crafted.pt"), "--epochs", "2", "--out", str(tmp_path / "again"),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "crafted.pt" in err and "train.num_workers" in err and "train.heartbeat_s" in err


def test_a_two_process_run_started_from_the_apps_settings_file_trains_on_an_image_folder(tmp_path):
    """What the app does for Processes = 2 on a folder dataset (core.processes.job): `train --settings S.json
    --nproc 2`. It failed with "shapes: the folder does not exist" (the health print read --dataset)."""
    from core.data import DataSpec
    from core.processes.job import TrainJob
    from core.runs.history import fold
    from core.training.session import RunSettings
    from core.training.config import TrainConfig
    from tests.core.test_distributed import _env

    folder = write_shapes_folder(tmp_path / "photos", per_class=6, size=16)
    settings = RunSettings(data=DataSpec(name=str(folder), image_size=16, seed=0), model_name="mlp",
                           model_options={"hidden": [8], "dropout": 0.0},
                           train=TrainConfig(epochs=1, batch_size=8, device="cpu", seed=0, evaluate_at_end=False))
    assert run_settings_problems(settings.to_dict()) == []  # what the app writes passes the limits
    log = open(tmp_path / "job.log", "w")
    job = TrainJob.start(settings, tmp_path / "run", nproc=2, env=_env(), log=log)
    try:
        code = job.wait(timeout=240)
    finally:
        if job.running:
            job.process.kill()
        log.close()
    output = (tmp_path / "job.log").read_text()
    assert code == 0, output[-3000:]
    assert "does not exist" not in output
    state = fold(tmp_path / "run")
    assert state.final is not None and state.final["kind"] == "end" and len(state.epochs) == 1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["name"] == str(folder)
