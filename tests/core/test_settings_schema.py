"""One settings schema (core.catalog.TRAIN_OPTIONS): TrainConfig and `layerscope train`'s options are made from it,
and a value outside the catalogue's limits is refused the same way by a CLI option, a --settings file and
TrainConfig. (The app's form side: tests/gui/test_settings_schema.py.)"""
import dataclasses
import json
import os
import re

import pytest

from core import catalog, exit_codes
from core.cli.main import COMMANDS, main, subcommands
from core.cli.train import CLI_ONLY, MODEL_OPTION_DESTS, run_settings, train_config
from core.training.config import TrainConfig
from core.training.errors import TrainingError
from core.training.session import RunSettings

TINY = ["--shapes-count", "48", "--image-size", "16", "--model", "mlp", "--hidden", "8", "--device", "cpu"]
DATA_DESTS = ("dataset", "train_count", "image_size", "val_fraction", "augmentation", "model")


def train_parser():
    return subcommands()["train"]


def train_dests() -> dict[str, str]:
    """`layerscope train`'s options: dest -> the option as typed."""
    return {a.dest: a.option_strings[0] for a in train_parser()._actions if a.option_strings and a.dest != "help"}


def test_train_config_fields_are_the_schema_keys():
    fields = dataclasses.fields(TrainConfig)
    assert [f.name for f in fields] == [o.key for o in catalog.TRAIN_OPTIONS if o.config]
    config = TrainConfig()
    for setting in catalog.TRAIN_SETTINGS:
        assert setting.check(getattr(config, setting.key)) == getattr(config, setting.key), setting.key


def test_every_cli_train_option_is_a_schema_setting_a_data_or_model_value_or_documented_cli_only():
    schema = {o.key: o for o in catalog.TRAIN_OPTIONS}
    dests = train_dests()
    for dest, flag in dests.items():
        assert dest in schema or dest in DATA_DESTS or dest in MODEL_OPTION_DESTS or dest in CLI_ONLY, flag
    for option in catalog.TRAIN_OPTIONS:  # and every setting a user sets has its option, under the same name
        if option.place != "internal":
            assert dests.get(option.key) == option.cli_flag, option.key
    assert set(CLI_ONLY) <= set(dests), "a CLI-only entry names an option that is gone"


def test_options_become_the_train_config():
    args = train_parser().parse_args([*TINY, "--optimizer", "sgd", "--momentum", "0.5", "--workers", "2",
                                      "--heartbeat-s", "0.5", "--checkpoint-every-min", "0", "--no-amp", "--compile",
                                      "--tensorboard", "--schedule", "step", "--step-size", "2", "--gamma", "0.5",
                                      "--layer-health-every"])
    config = train_config(args)
    assert (config.momentum, config.num_workers, config.heartbeat_s, config.checkpoint_every_min) == (0.5, 2, 0.5, 0.0)
    assert (config.amp, config.compile, config.tensorboard) == (False, True, True)
    assert (config.step_size, config.gamma, config.layer_health_every) == (2, 0.5, catalog.LAYER_HEALTH_SUGGESTED)
    assert train_config(train_parser().parse_args([])) == TrainConfig()  # the options' defaults are TrainConfig's


def test_momentum_reaches_sgd():
    from core.training.session import prepare_trainer

    args = train_parser().parse_args([*TINY, "--optimizer", "sgd", "--momentum", "0.5"])
    trainer = prepare_trainer(run_settings(args), None)
    assert type(trainer.optimizer).__name__ == "SGD"
    assert {g["momentum"] for g in trainer.optimizer.param_groups} == {0.5}


# ---- the same limits, three ways in --------------------------------------------------------------------------
OUT_OF_LIMITS = [("heartbeat_s", 1e-9), ("num_workers", 500), ("lr", 1e6), ("batch_size", 0), ("momentum", 1.5),
                 ("checkpoint_every_min", -1.0), ("layer_health_every", -3), ("device", "tpu"),
                 ("optimizer", "rmsprop")]


def catalogue_message(key, value) -> str:
    setting = next(s for s in catalog.TRAIN_SETTINGS if s.key == key)
    with pytest.raises(catalog.SettingError) as refused:
        setting.check(value)
    return str(refused.value)


def settings_file(tmp_path, **train) -> str:
    values = RunSettings().to_dict()
    values["train"].update(train)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(values))
    return str(path)


@pytest.mark.parametrize("key, value", OUT_OF_LIMITS)
def test_a_value_out_of_limits_is_refused_alike_by_option_file_and_train_config(tmp_path, capsys, key, value):
    message = catalogue_message(key, value)
    flag = next(o.cli_flag for o in catalog.TRAIN_OPTIONS if o.key == key)

    with pytest.raises(SystemExit) as cli:
        main(["train", flag, str(value), "--out", str(tmp_path / "cli")])
    assert cli.value.code == exit_codes.USAGE
    assert f"argument {flag}: {message}" in capsys.readouterr().err

    path = settings_file(tmp_path, **{key: value})
    assert main(["train", "--settings", path, "--out", str(tmp_path / "file"), "--quiet"]) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert f"--settings {path}: train.{key}: {message}" in err, err
    assert not (tmp_path / "file").exists(), "nothing is written for refused settings"

    with pytest.raises(TrainingError) as config:
        TrainConfig(**{key: value}).validate()
    assert message in str(config.value)


def test_the_option_message_is_the_catalogues(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--heartbeat-s", "1e-9"])
    assert f"argument --heartbeat-s: {catalogue_message('heartbeat_s', 1e-9)}" in capsys.readouterr().err


@pytest.mark.parametrize("data, named", [({"image_size": 100000}, "data.image_size"),
                                         ({"val_count": 10**9}, "data.val_count"),
                                         ({"augmentation": {"rotation_degrees": 720}}, "data.augmentation.rotation_degrees"),
                                         ({"name": ""}, "data.name")])
def test_a_settings_file_data_value_out_of_limits_is_refused(tmp_path, capsys, data, named):
    values = RunSettings().to_dict()
    values["data"].update(data)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(values))
    assert main(["train", "--settings", str(path), "--out", str(tmp_path / "run")]) == exit_codes.USAGE
    assert f"--settings {path}: {named}" in capsys.readouterr().err


def test_a_settings_file_that_is_not_one_is_refused_naming_it(tmp_path, capsys):
    cases = {"list.json": "[1, 2]", "text.json": "not json", "deep.json": "[" * 100_000 + "]" * 100_000,
             "big.json": " " * (2 << 20)}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    os.mkfifo(tmp_path / "fifo.json")  # would block a plain open() forever
    for name in (*cases, "fifo.json", "missing.json"):
        path = tmp_path / name
        assert main(["train", "--settings", str(path), "--out", str(tmp_path / "run")]) == exit_codes.USAGE, name
        err = capsys.readouterr().err
        assert f"--settings {path}: " in err and "Traceback" not in err, err


def test_a_run_from_a_settings_file_trains_with_exactly_those_settings(tmp_path, capsys):
    """What the app writes for a run in its own process (core.processes.job): the run's config.json says the same."""
    settings = run_settings(train_parser().parse_args([*TINY, "--epochs", "1", "--optimizer", "sgd", "--momentum",
                                                       "0.7", "--heartbeat-s", "0.5", "--checkpoint-every-min", "0"]))
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings.to_dict()))
    out = tmp_path / "run"
    assert main(["train", "--settings", str(path), "--out", str(out), "--quiet"]) == exit_codes.OK
    recorded = json.loads((out / "config.json").read_text())["train"]
    assert recorded == settings.train.to_dict()


# ---- commands and exit codes ---------------------------------------------------------------------------------
def test_every_command_registers_its_handler():
    parsers = subcommands()
    assert COMMANDS == tuple(parsers)
    for name, parser in parsers.items():
        assert callable(parser.get_default("handler")), name


def test_exit_codes_are_defined_once():
    """No command module spells an exit status as a number or defines its own; core.exit_codes says them all."""
    from pathlib import Path

    import core.cli

    for path in Path(core.cli.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\bEXIT_[A-Z]+\s*=|return [0-9]+\b|\b128 \+", text), path.name
