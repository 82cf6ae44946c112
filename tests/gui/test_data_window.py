"""The Data and Model tabs inside the real window: a dropped folder opens as a dataset, and Train uses the
augmentation and model options chosen there (and asks first when the model would not fit)."""
import json
import shutil

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox


def drop(window, paths) -> None:
    """What a file manager does: drag enter, then drop, with the paths as file URLs."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPointF(window.rect().center())
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


@pytest.fixture(autouse=True)
def thumbnail_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERSCOPE_CACHE_DIR", str(tmp_path / "cache"))  # not the user's cache folder


@pytest.fixture
def insects(shared_data, tmp_path):
    if not (shared_data / "hymenoptera").is_dir():
        pytest.skip(f"the hymenoptera photos are not in {shared_data}")
    root = tmp_path / "insects"
    for cls in ("ants", "bees"):
        (root / cls).mkdir(parents=True)
        for p in sorted((shared_data / "hymenoptera" / "val" / cls).glob("*.jpg"))[:4]:
            shutil.copy(p, root / cls / p.name)
    (root / "bees" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def test_dropping_a_folder_opens_it_as_the_dataset(qtbot, window, insects):
    data = window.data_view
    with qtbot.waitSignal(data.health.report_ready, timeout=60_000) as ready:
        drop(window, [insects])
    assert window.tabs.currentWidget() is data
    assert data.dataset_name() == str(insects)
    assert ready.args[0].classes == ["ants", "bees"]
    assert any("corrupt.jpg" in line for line in data.health.problem_texts())
    qtbot.waitUntil(lambda: data.browser.classes() == ["ants", "bees"], timeout=30_000)
    # The run now trains on it (the Train tab shows it), and the Model tab sizes the output layer to its 2 classes.
    assert window.run_settings.get("dataset") == str(insects)
    assert str(insects) in window.panel.dataset_link.text()
    qtbot.waitUntil(lambda: window.model_view.summary() is not None
                    and window.model_view.summary().request.num_classes == 2, timeout=30_000)


def test_open_dataset_action_and_tabs_exist(window):
    assert window.open_dataset_action.shortcut().toString() == "Ctrl+D"
    assert window.open_dataset_action in window.menus["file"].actions()
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[:3] == ["Train", "Data", "Model"]
    names = [window.data_view.chooser.itemData(i) for i in range(window.data_view.chooser.count())]
    assert {"shapes", "mnist", "fashion_mnist", "cifar10"} <= set(names)


def test_train_uses_the_augmentation_and_model_options(qtbot, window):
    window.data_view.augmentation_panel.flip.setChecked(True)
    assert window.model_view.model_name() == "cnn"  # the run's model
    window.model_view.set_model("cnn", {"blocks": 2, "channels": 4, "batch_norm": False, "dropout": 0.0})
    with qtbot.waitSignal(window.controller.runFinished, timeout=120_000):
        window.start_training()
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=30_000)
    config = json.loads((window.controller.run_dir / "config.json").read_text())
    assert config["model_options"] == {"blocks": 2, "channels": 4, "batch_norm": False, "dropout": 0.0}
    assert config["data"]["augmentation"]["horizontal_flip"] is True
    assert config["model_spec"]["options"]["channels"] == 4


def test_a_run_that_would_not_fit_asks_first(qtbot, window, monkeypatch):
    view = window.model_view
    view.set_model("cnn", {"channels": 128})  # ~6 MB of activations per 64x64 image
    window.panel.batch_size.setValue(window.panel.batch_size.maximum())  # the Model tab follows the panel
    qtbot.waitUntil(lambda: not view.is_busy() and view.summary() is not None
                    and view.summary().request.batch_size == window.panel.batch_size.maximum(), timeout=30_000)
    assert view.would_not_fit()  # 65,536 of them at once: about 400 GB
    assert "not fit" in view.memory_label.text()
    asked = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
    window.start_training()
    assert asked, "no confirmation was asked"
    assert window.controller.state == "idle" and window.controller.run_dir is None


def test_a_dataset_set_in_the_run_settings_opens_in_the_data_tab(qtbot, window, insects):
    data = window.data_view
    with qtbot.waitSignal(data.browser.loaded, timeout=30_000):
        window.panel.set_values({"dataset": str(insects)})  # a remembered or scripted choice
    assert data.dataset_name() == str(insects)
    assert data.browser.classes() == ["ants", "bees"]
    with qtbot.waitSignal(data.browser.loaded, timeout=30_000):
        window.run_settings.set("dataset", "shapes")
    assert data.dataset_name() == "shapes"
    qtbot.waitUntil(lambda: window.model_view.summary() is not None
                    and window.model_view.summary().request.num_classes == 5, timeout=30_000)


def test_double_clicking_a_thumbnail_inspects_it(qtbot, window, insects, monkeypatch):
    opened = []
    monkeypatch.setattr(window.inspector, "open_paths", lambda paths: opened.append(paths))
    data = window.data_view
    with qtbot.waitSignal(data.browser.loaded, timeout=30_000):
        data.open_dataset(insects)
    window.tabs.setCurrentWidget(data)
    view = data.browser.view
    index = data.browser.model.index(0)
    qtbot.waitUntil(lambda: view.visualRect(index).isValid(), timeout=10_000)  # laid out
    view.setCurrentIndex(index)
    rect = view.visualRect(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # a real double-click
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # starts with a press
    assert opened and opened[0][0] == data.browser.model.items()[0].key
    assert window.tabs.currentWidget() is window.inspector


def test_a_folder_dropped_while_the_engine_loads_wins_over_the_saved_choice(qtbot, app_settings, runs_root, insects):
    from gui.window.main_window import MainWindow

    app_settings.save_form({"dataset": "mnist"})  # what the panel restores once the engine is there
    w = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(w)
    w.show()
    drop(w, [insects])  # before PyTorch has loaded: the dataset waits
    assert w.data_view.dataset_name() is None
    with qtbot.waitSignal(w.data_view.health.report_ready, timeout=120_000):
        w.load_engine(blocking=True)  # the panel restores "mnist" now
    assert w.data_view.dataset_name() == str(insects)
    assert w.run_settings.get("dataset") == str(insects)
    w.data_view.shutdown()


def test_image_size_and_validation_share_reach_the_run_and_the_model_tab(qtbot, window):
    data = window.data_view
    data.options.image_size.setValue(32)
    data.options.val_share.setValue(30)
    # The Model tab's input layer follows the chosen size (shapes are drawn at 40 px by default).
    qtbot.waitUntil(lambda: window.model_view.summary() is not None
                    and window.model_view.summary().request.image_size == 32, timeout=30_000)
    with qtbot.waitSignal(window.controller.runFinished, timeout=120_000):
        window.start_training()
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=30_000)
    config = json.loads((window.controller.run_dir / "config.json").read_text())
    assert config["data"]["image_size"] == 32 and config["data"]["val_fraction"] == 0.3
    assert window.hub.current().preprocess.image_size == 32  # the trained model sees 32x32 images
    data.options.image_size.setValue(0)  # "auto": the dataset's own size again
    assert data.data_options()["image_size"] is None
    qtbot.waitUntil(lambda: window.model_view.summary().request.image_size == 40, timeout=30_000)


def test_data_options_and_augmentation_are_remembered(qtbot, window, app_settings, runs_root):
    from gui.window.main_window import MainWindow

    window.data_view.options.image_size.setValue(48)
    window.data_view.options.val_share.setValue(25)
    window.data_view.augmentation_panel.rotation.setValue(15)
    window.close()  # saves them
    again = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(again)
    assert again.data_view.data_options() == {"image_size": 48, "val_fraction": 0.25}
    assert again.data_view.augmentation_dict()["rotation_degrees"] == 15
    again.data_view.shutdown()


def test_damaged_saved_data_settings_fall_back_to_defaults(qtbot, app_settings, runs_root):
    from gui.window.main_window import MainWindow

    app_settings.save_section("data/options", {"image_size": "huge", "val_fraction": [1]})
    app_settings.q.setValue("data/augmentation", "{not json")
    w = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(w)
    assert w.data_view.data_options() == {"image_size": None, "val_fraction": 0.2}
    assert not w.data_view.augmentation_dict()["horizontal_flip"]
    w.data_view.shutdown()


def test_validation_share_applies_only_to_folders_without_a_val_split(qtbot, window, insects, tmp_path):
    data = window.data_view
    data.open_dataset("shapes")
    assert not data.options.val_share.isEnabled()
    data.open_dataset(insects)  # class folders only: split by the share
    assert data.options.val_share.isEnabled()
    split = tmp_path / "split"
    for part in ("train", "val"):
        shutil.copytree(insects, split / part)
    with qtbot.waitSignal(data.browser.loaded, timeout=30_000):  # let the listing finish before teardown
        data.open_dataset(split)
    assert not data.options.val_share.isEnabled()


def test_a_new_validation_share_checks_a_split_folder_again(qtbot, window, insects):
    data = window.data_view
    with qtbot.waitSignal(data.health.report_ready, timeout=60_000) as first:
        data.open_dataset(insects)
    assert "20 % held out" in first.args[0].layout
    with qtbot.waitSignal(data.health.report_ready, timeout=60_000) as second:
        data.options.val_share.setValue(50)
    assert "50 % held out" in second.args[0].layout
    counts = second.args[0].counts  # 4 ant photos: half held out now, one of them before
    assert counts["ants"]["val"] == 2 and first.args[0].counts["ants"]["val"] == 1
