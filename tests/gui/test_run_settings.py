"""The one settings model of a run: each value is edited in one tab and shown in the others, remembered
between sessions, and checked against core.catalog."""
import pytest
from PySide6.QtWidgets import QComboBox, QSpinBox

from core import catalog
from gui.run_settings_model import OWNERS, RunSettingsModel, SettingsError


@pytest.fixture
def model(qtbot):
    return RunSettingsModel()


def test_a_change_is_announced_once_and_a_repeat_not_at_all(qtbot, model):
    seen = []
    model.changed.connect(lambda key, value: seen.append((key, value)))
    assert model.set("batch_size", 64) is True
    assert model.set("batch_size", 64) is False
    model.update({"batch_size": 64, "epochs": 5})
    assert seen == [("batch_size", 64), ("epochs", 5)]


def test_defaults_and_limits_come_from_the_catalogue(qtbot, model):
    assert model.get("epochs") == catalog.EPOCHS.default and model.get("model") == catalog.DEFAULT_MODEL
    assert model.get("optimizer") == catalog.OPTIMIZER.default
    with pytest.raises(ValueError, match="Batch size"):
        model.set("batch_size", catalog.BATCH_SIZE.maximum + 1)
    with pytest.raises(ValueError):
        model.set("optimizer", "rmsprop")
    with pytest.raises(ValueError, match="unknown"):
        model.set("colour", "blue")
    model.update({"batch_size": 0, "optimizer": "rmsprop", "colour": "blue", "seed": "seven", "epochs": 4})
    assert (model.get("batch_size"), model.get("optimizer"), model.get("epochs")) == (16, catalog.OPTIMIZER.default, 4)


def test_restore_skips_a_dataset_folder_that_is_gone(qtbot, model, tmp_path):
    model.restore({"dataset": str(tmp_path / "gone"), "epochs": 9})
    assert model.get("dataset") == catalog.DEFAULT_DATASET and model.get("epochs") == 9
    model.restore({"dataset": str(tmp_path)})
    assert model.get("dataset") == str(tmp_path)


def test_build_makes_core_run_settings_and_names_a_bad_field(qtbot, model):
    model.update({"train_count": 96, "model": "mlp", "val_fraction": 0.3, "augmentation": {"horizontal_flip": True},
                  "lr": "0.01", "backbone_lr_scale": 0.5})
    settings = model.build()
    # No Model tab here to fill in the options: the new model gets its own defaults, not the cnn's.
    assert settings.model_name == "mlp" and settings.model_options == catalog.MODELS["mlp"].default_options()
    assert settings.data.train_count == 96 and settings.data.val_count == catalog.shapes_val_count(96)
    assert settings.data.val_fraction == 0.3 and settings.data.augmentation.horizontal_flip is True
    assert settings.train.lr == 0.01 and settings.train.backbone_lr_scale == 0.5
    model.set("lr", "fast")
    with pytest.raises(SettingsError, match="Learning rate: 'fast'"):
        model.build()


def test_every_value_has_one_owner_tab():
    assert set(OWNERS.values()) == {"train", "data", "model"}
    assert set(OWNERS) == set(RunSettingsModel().values())


# ---- bound to the real window ---------------------------------------------------------------------------
def test_a_value_changed_in_its_owner_tab_shows_in_the_others(qtbot, window):
    data, model_view, panel = window.data_view, window.model_view, window.panel
    data.chooser.setCurrentIndex(data.chooser.findData("fashion_mnist"))
    data.chooser.activated.emit(data.chooser.currentIndex())  # what a user's pick sends
    assert window.run_settings.get("dataset") == "fashion_mnist"
    assert "Fashion-MNIST" in panel.dataset_link.text()
    assert data.dataset_name() == "fashion_mnist"

    model_view.builder.model_combo.setCurrentText("mlp")
    assert panel.values()["model"] == "mlp" and "MLP" in panel.model_link.text()

    panel.batch_size.setValue(48)
    assert "<b>48</b>" in model_view.batch_link.text()
    qtbot.waitUntil(lambda: model_view.summary() is not None and model_view.summary().request.batch_size == 48
                    and model_view.summary().request.model_name == "mlp", timeout=60_000)

    data.options.image_size.setValue(32)
    assert window.run_settings.get("image_size") == 32
    model_view.builder.mlp.layers.setValue(1)
    assert window.run_settings.get("model_options")["hidden"] == [256]


def test_links_open_the_tab_that_owns_the_value(qtbot, window):
    window.panel.dataset_link.linkActivated.emit("data")
    assert window.tabs.currentWidget() is window.data_view
    window.panel.model_link.linkActivated.emit("model")
    assert window.tabs.currentWidget() is window.model_view
    window.model_view.batch_link.linkActivated.emit("train")
    assert window.tabs.currentWidget().isAncestorOf(window.panel)


def test_no_value_has_two_editors(qtbot, window):
    combos = window.findChildren(QComboBox)
    assert sum(box.findData("mnist") >= 0 or box.findText("mnist") >= 0 for box in combos) == 1  # dataset
    assert sum(box.findText("resnet18") >= 0 for box in combos) == 1  # model
    window.panel.batch_size.setValue(77)
    assert [box for box in window.findChildren(QSpinBox) if box.value() == 77] == [window.panel.batch_size]
    import gui.window.data_hookup as hookup

    assert not hasattr(hookup, "link_views")


def test_values_set_in_each_owner_tab_are_remembered(qtbot, window, app_settings, runs_root):
    from gui.window.main_window import MainWindow

    window.data_view.open_dataset("cifar10")
    window.data_view.options.val_share.setValue(35)
    window.model_view.builder.model_combo.setCurrentText("mlp")
    window.panel.batch_size.setValue(40)
    window.close()  # saves them
    again = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(again)
    values = again.run_settings.values()
    assert (values["dataset"], values["model"], values["batch_size"], values["val_fraction"]) == ("cifar10", "mlp", 40, 0.35)
    assert again.data_view.chooser.currentData() == "cifar10"
    assert again.model_view.model_name() == "mlp" and again.panel.batch_size.value() == 40
    assert "CIFAR-10" in again.panel.dataset_link.text()
    again.data_view.shutdown()
    again.model_view.shutdown()


def test_the_shapes_image_count_shows_only_for_the_shapes_dataset(qtbot, tmp_path):
    from gui.data import DataView

    view = DataView()
    qtbot.addWidget(view)
    view.show()
    count = view.options.train_count
    assert count.isVisible()
    (tmp_path / "a").mkdir()
    view.open_dataset(tmp_path)
    assert not count.isVisible()
    view.open_dataset("shapes")
    assert count.isVisible()
    count.setValue(400)
    assert view.settings.get("train_count") == 400
    view.shutdown()


def test_early_stopping_is_a_train_form_setting_off_by_default(qtbot):
    from gui.training.form import TrainingPanel

    model = RunSettingsModel()
    panel = TrainingPanel(model)
    qtbot.addWidget(panel)
    assert OWNERS["early_stop_patience"] == OWNERS["early_stop_metric"] == "train"
    assert panel.early_stop_patience.value() == 0 and panel.early_stop_patience.text() == "Off"
    assert model.build().train.early_stop_patience == 0
    panel.early_stop_patience.setValue(3)
    panel.early_stop_metric.setCurrentText("val_acc")
    train = model.build().train
    assert (train.early_stop_patience, train.early_stop_metric) == (3, "val_acc")
    with pytest.raises(ValueError):
        model.set("early_stop_metric", "train_loss")
