"""The app's form offers every option `layerscope train --help` lists: both are made from core.catalog's one
schema (TRAIN_OPTIONS), so they cannot drift. The form's values reach a run the app starts."""
import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from core import catalog
from core.cli.main import subcommands
from core.cli.train import CLI_ONLY, MODEL_OPTION_DESTS
from gui.run_settings_model import OWNERS, TRAIN_FORM_OPTIONS, RunSettingsModel


@pytest.fixture
def panel(qtbot):
    from gui.training.form import TrainingPanel

    panel = TrainingPanel(RunSettingsModel())
    qtbot.addWidget(panel)
    panel.set_engine_ready()
    panel.show()
    return panel


def train_options() -> dict[str, str]:
    """`layerscope train --help`'s options: dest -> the option as typed."""
    parser = subcommands()["train"]
    return {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings and a.dest != "help"}


def test_the_form_offers_every_option_of_train_help(panel):
    options = train_options()
    schema = {o.key: o for o in catalog.TRAIN_OPTIONS}
    # The exemptions are few and each names how the app covers it; a seventh would be a setting the form lacks.
    assert set(CLI_ONLY) == {"out", "resume", "overwrite", "finetune_from", "quiet", "settings"}
    assert set(CLI_ONLY) <= set(options)
    for dest, flag in options.items():
        if dest in CLI_ONLY:
            continue
        if dest in MODEL_OPTION_DESTS:  # --hidden, --pretrained, ...: the Model tab's options page
            assert OWNERS["model_options"] == "model", flag
        elif schema.get(dest) is not None and schema[dest].place == "inspect":  # --probe: pinned in Inspect
            assert dest == "probe_images", flag
        elif OWNERS.get(dest) == "train":  # the Train form itself: a field in the panel, bound to the value
            field = panel.own_fields.fields[dest]
            assert panel.isAncestorOf(field), flag
        else:  # the Data or Model tab edits it
            assert OWNERS.get(dest) in ("data", "model"), f"{flag} has no place in the app"
    # And nothing the form sets is missing from the CLI.
    assert set(TRAIN_FORM_OPTIONS) <= set(options)


def test_each_field_is_the_kind_and_range_its_setting_needs(panel):
    for key, option in TRAIN_FORM_OPTIONS.items():
        field, setting = panel.own_fields.fields[key], option.setting
        if isinstance(setting, catalog.NumberSetting) and setting.integer:
            assert isinstance(field, QSpinBox) and (field.minimum(), field.maximum()) == (setting.minimum,
                                                                                           setting.maximum), key
        elif isinstance(setting, catalog.NumberSetting):
            assert isinstance(field, QLineEdit), key
        elif isinstance(setting, catalog.ChoiceSetting):
            assert isinstance(field, QComboBox)
            assert [field.itemText(i) for i in range(field.count())] == list(setting.names), key
        else:
            assert isinstance(field, QCheckBox) and field.isChecked() == setting.default, key


def test_advanced_starts_collapsed_and_opens_on_a_click(qtbot, panel):
    advanced = panel.own_fields.advanced
    assert not advanced.content.isVisible() and not panel.num_workers.isVisible()
    room = panel.minimumSizeHint().height()
    qtbot.mouseClick(advanced.header, Qt.MouseButton.LeftButton)
    assert advanced.is_open() and panel.num_workers.isVisible() and panel.heartbeat_s.isVisible()
    # Open, the fields scroll rather than ask the window for more room (Train stays on screen).
    assert panel.minimumSizeHint().height() == room
    for key in ("num_workers", "amp", "compile", "checkpoint_every_min", "heartbeat_s", "momentum", "tensorboard"):
        assert advanced.content.isAncestorOf(panel.own_fields.fields[key]), key
    qtbot.mouseClick(advanced.header, Qt.MouseButton.LeftButton)
    assert not panel.num_workers.isVisible()


def test_momentum_is_editable_only_for_sgd_and_step_settings_only_for_the_step_schedule(panel):
    assert panel.optimizer.currentText() == "adam" and not panel.momentum.isEnabled()
    panel.optimizer.setCurrentText("sgd")
    assert panel.momentum.isEnabled() and not panel.gamma.isEnabled() and not panel.step_size.isEnabled()
    panel.schedule.setCurrentText("step")
    assert panel.gamma.isEnabled() and panel.step_size.isEnabled()
    panel.set_state("running")
    assert not panel.momentum.isEnabled()


def test_advanced_values_are_built_into_the_run_and_checked_against_the_catalogue(panel):
    model = panel.settings
    panel.optimizer.setCurrentText("sgd")
    panel.momentum.setText("0.5")
    panel.momentum.textEdited.emit("0.5")  # what typing sends
    panel.num_workers.setValue(2)
    panel.amp.setChecked(False)
    panel.compile.setChecked(True)
    panel.heartbeat_s.setText("0.5")
    panel.heartbeat_s.textEdited.emit("0.5")
    panel.checkpoint_every_min.setText("0")
    panel.checkpoint_every_min.textEdited.emit("0")
    train = model.build().train
    assert (train.optimizer, train.momentum, train.num_workers, train.amp, train.compile) == ("sgd", 0.5, 2, False, True)
    assert (train.heartbeat_s, train.checkpoint_every_min) == (0.5, 0.0)
    model.set("heartbeat_s", "1e-9")  # typed: refused at Train with the catalogue's message
    with pytest.raises(ValueError, match=r"Heartbeat every \(s\): 1e-09 is outside"):
        model.build()
    with pytest.raises(ValueError):
        model.set("num_workers", 500)


def test_the_form_values_go_through_a_settings_file_unchanged(panel, tmp_path):
    """A run the app starts in its own process gets the form's values as `layerscope train --settings FILE`
    (core.processes.job): what the CLI reads back is what the form built."""
    from core.cli.train import run_settings

    panel.optimizer.setCurrentText("sgd")
    panel.set_values({"momentum": "0.25", "num_workers": 1, "heartbeat_s": "3", "amp": False, "tensorboard": True})
    settings = panel.run_settings()
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings.to_dict()))
    args = subcommands()["train"].parse_args(["--settings", str(path)])
    assert run_settings(args).train == settings.train


def test_a_followed_runs_advanced_settings_show_read_only(qtbot, panel):
    config = {"data": {"name": "shapes"}, "model_name": "cnn",
              "train": {"epochs": 4, "num_workers": 3, "heartbeat_s": 0.5, "amp": False, "momentum": 0.8}}
    panel.show_followed_settings("some-run", config)
    fields = panel.shown_fields()
    assert fields is panel.followed_fields
    assert (fields.num_workers.value(), fields.heartbeat_s.text(), fields.amp.isChecked()) == (3, "0.5", False)
    assert not fields.num_workers.isEnabled() and not fields.processes.isVisibleTo(fields)
    assert panel.num_workers.value() == catalog.WORKERS.default  # the user's own values are untouched


def test_advanced_values_reach_a_run_the_window_starts(qtbot, window):
    """A real run from the Train button: its config.json holds the Advanced values set in the form."""
    panel = window.panel
    panel.set_values({"epochs": 1, "train_count": 48, "optimizer": "sgd", "momentum": "0.6", "heartbeat_s": "0.5",
                      "checkpoint_every_min": "0", "amp": False})
    with qtbot.waitSignal(window.controller.runFinished, timeout=120_000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=30_000)
    train = json.loads((window.controller.run_dir / "config.json").read_text())["train"]
    assert (train["optimizer"], train["momentum"], train["heartbeat_s"], train["checkpoint_every_min"],
            train["amp"]) == ("sgd", 0.6, 0.5, 0.0, False)
