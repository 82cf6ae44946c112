"""The Train form's Insight settings (top images per channel, layer health): owned by the Train tab, off by
default, built into TrainConfig, remembered, and a real run with top-K on writes RUN/dossier/topk.npz."""
import pytest
from PySide6.QtCore import Qt

from core import catalog
from gui.run_settings_model import OWNERS, RunSettingsModel


def test_insight_settings_are_train_form_settings_off_by_default(qtbot):
    from gui.training.form import TrainingPanel

    model = RunSettingsModel()
    panel = TrainingPanel(model)
    qtbot.addWidget(panel)
    assert OWNERS["dossier_topk"] == OWNERS["layer_health_every"] == "train"
    assert not panel.dossier_topk.isChecked() and panel.layer_health_every.text() == "Off"
    train = model.build().train
    assert (train.dossier_topk, train.layer_health_every) == (catalog.DOSSIER_TOPK.default, 0)
    panel.dossier_topk.setChecked(True)
    panel.layer_health_every.setValue(catalog.LAYER_HEALTH_SUGGESTED)
    train = model.build().train
    assert (train.dossier_topk, train.layer_health_every) == (True, catalog.LAYER_HEALTH_SUGGESTED)
    model.set("dossier_topk", False)  # the model drives the box too
    assert not panel.dossier_topk.isChecked()
    with pytest.raises(ValueError):
        model.set("layer_health_every", -1)
    with pytest.raises(ValueError):
        model.set("dossier_topk", "yes")


def test_insight_settings_are_remembered(qtbot, window, app_settings, runs_root):
    from gui.window.main_window import MainWindow

    window.panel.dossier_topk.setChecked(True)
    window.panel.layer_health_every.setValue(25)
    window.close()  # saves them
    again = MainWindow(runs_root=runs_root, settings=app_settings)
    qtbot.addWidget(again)
    assert again.run_settings.values(["dossier_topk", "layer_health_every"]) == {"dossier_topk": True,
                                                                                 "layer_health_every": 25}
    assert again.panel.dossier_topk.isChecked() and again.panel.layer_health_every.value() == 25
    again.data_view.shutdown()
    again.model_view.shutdown()


def test_a_run_with_top_images_on_writes_the_run_dossier(qtbot, window):
    window.panel.set_values({"epochs": 1, "train_count": 48})
    window.panel.dossier_topk.setChecked(True)
    with qtbot.waitSignal(window.controller.runFinished, timeout=120_000) as finished:
        qtbot.mouseClick(window.panel.train_button, Qt.MouseButton.LeftButton)
    assert finished.args[0]["stopped"] is False
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=30_000)
    assert (window.controller.run_dir / "dossier" / "topk.npz").is_file()


def test_a_probe_pinned_in_the_inspector_gets_a_timeline_in_the_next_run(qtbot, window, tmp_path):
    from PIL import Image

    from core.dossier.probes import read_probes
    from gui.inspector.sources import ImageSource

    image = tmp_path / "probe.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(image)
    window.inspector.probe.pin(ImageSource.from_path(image))
    window.panel.set_values({"epochs": 1, "train_count": 48})
    with qtbot.waitSignal(window.controller.runFinished, timeout=120_000):
        qtbot.mouseClick(window.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=30_000)
    index, snapshots = read_probes(window.controller.run_dir)
    assert snapshots, "the run kept snapshots of the pinned probe"
    assert str(image) in json_text(index)
    window.inspector.probe.pin(None)


def json_text(value) -> str:
    import json

    return json.dumps(value)
