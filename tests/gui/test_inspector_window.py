"""Drops on the real main window: real QDragEnter/QDrop events carrying file URLs, routed to the Inspect tab;
checkpoints and folders routed elsewhere; inspecting while a run trains uses a copy and never stops it;
images given on the command line are inspected at start."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from core.checkpoints.checkpoint import checkpoint_from_model, save_checkpoint
from core.data.transforms import Preprocess
from core.models import ModelSpec, build_model

WAIT = 60_000
CLASSES = ["ants", "bees"]


@pytest.fixture
def loose(shared_data) -> Path:
    folder = shared_data / "loose"
    if not (folder / "abeja.jpg").exists():
        pytest.skip(f"the loose test photos are not in {folder}")
    return folder


def has_steps(records) -> bool:
    """A batch of records with at least one step (the first batch may hold only the start record)."""
    return any(r["kind"] == "step" for r in records)


def tiny_checkpoint(seed: int = 0):
    import torch

    torch.manual_seed(seed)
    spec = ModelSpec("cnn", len(CLASSES), 3, 32, {"blocks": 2, "channels": 8})
    return checkpoint_from_model(build_model(spec), spec, CLASSES, Preprocess(32))


def drop(window, items) -> None:
    """What a file manager does: drag enter, then drop, with the files as URLs."""
    mime = QMimeData()
    mime.setUrls([QUrl(str(i)) if str(i).startswith("http") else QUrl.fromLocalFile(str(i)) for i in items])
    centre = window.rect().center()
    enter = QDragEnterEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window refused the drag"
    event = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted(), "the window refused the drop"


@pytest.fixture
def inspector(window):
    panel = window.inspector
    yield panel
    assert panel.shutdown(WAIT)


def wait_detail(qtbot, panel, label):
    qtbot.waitUntil(lambda: panel.detail is not None and panel.detail.label == label and not panel._busy,
                    timeout=WAIT)
    return panel.detail


def test_dropping_one_photo_shows_the_inspect_tab_with_prediction_and_layers(qtbot, window, inspector, loose):
    window.hub.set_checkpoint(tiny_checkpoint(), "unit test")
    drop(window, [loose / "abeja.jpg"])
    assert window.tabs.currentWidget() is inspector
    detail = wait_detail(qtbot, inspector, "abeja.jpg")
    assert [l for l, _ in inspector.topk.entries()] == [l for l, _ in detail.inspection.prediction]
    assert inspector.layers.table.rowCount() == len(detail.inspection.layers) > 5
    assert inspector.layers.mosaic.base.image is not None
    assert inspector.input_pane.base.image.shape == (32, 32, 3)
    # Drop another one: the view follows.
    drop(window, [loose / "desert_ant.jpg"])
    wait_detail(qtbot, inspector, "desert_ant.jpg")
    assert inspector.layers.current_layer_name() == detail.inspection.layers[0].name


def test_dropping_many_photos_with_bad_files(qtbot, window, inspector, loose, tmp_path):
    window.hub.set_checkpoint(tiny_checkpoint(), "unit test")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes((loose / "abeja.jpg").read_bytes()[:300])
    text = tmp_path / "readme.txt"
    text.write_text("hello")
    photos = sorted(p for p in loose.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:5]
    with qtbot.waitSignal(inspector.rowsDone, timeout=WAIT):
        drop(window, [photos[0], bad, *photos[1:], text])
    rows = inspector.table.results()
    assert len(rows) == len(photos) + 2
    errors = {r.label: r.error for r in rows if r.error}
    assert set(errors) == {"broken.jpg", "readme.txt"}
    assert all(r.top and r.top[0][0] in CLASSES for r in rows if not r.error)
    assert "2 of 7 files could not be read" in inspector.banner.text()
    assert any("broken.jpg" in text for _, text in window.log.lines)
    wait_detail(qtbot, inspector, photos[0].name)


def test_drop_with_no_model_offers_training_or_a_checkpoint(qtbot, window, inspector, loose):
    assert window.hub.current() is None
    drop(window, [loose / "abeja.jpg"])
    assert window.tabs.currentWidget() is inspector
    assert inspector.banner.action_titles() == ["Train a model", "Open checkpoint…"]
    inspector.banner.trigger("Train a model")
    assert window.tabs.currentIndex() == 0 and window.tabs.tabText(0) == "Train"


def test_checkpoint_and_folder_drops_go_elsewhere(qtbot, window, inspector, loose, tmp_path):
    path = save_checkpoint(tiny_checkpoint(), tmp_path / "model.pt")
    with qtbot.waitSignal(window.hub.checkpointChanged, timeout=WAIT):  # opened off the GUI thread
        drop(window, [path])
    assert window.hub.current() is not None and window.hub.source() == str(path)
    folder = tmp_path / "dataset"
    folder.mkdir()
    drop(window, [folder])  # a folder without class folders is classified: this one has no images to classify
    qtbot.waitUntil(lambda: any(str(folder) in text and "No images in" in text for _, text in window.log.lines),
                    timeout=WAIT)
    assert inspector.detail is None and inspector.table.rowCount() == 0


def steps_written(run) -> int:
    path = run / "metrics.jsonl"
    return max([json.loads(line).get("step") or 0 for line in path.read_text().splitlines()
                if '"step"' in line], default=0) if path.exists() else 0


def test_dropping_during_training_inspects_a_copy_and_the_run_goes_on(qtbot, window, inspector, loose):
    window.panel.set_values({"epochs": 200})
    with qtbot.waitSignal(window.hub.checkpointChanged, timeout=180_000):  # the first epoch's weights
        window.start_training()
    assert window.controller.state == "running" and window.hub.current() is not None
    run = window.controller.run_dir
    drop(window, [loose / "Hormiga.jpg"])
    detail = wait_detail(qtbot, inspector, "Hormiga.jpg")
    assert detail.model_source.startswith("training epoch")  # the epoch's weights, loaded from its last.pt
    inspected = inspector.jobs._predictor.model
    assert detail.model_id == id(inspected) and not inspected.training  # a copy, in eval mode
    assert window.controller.state == "running"
    step = steps_written(run)
    qtbot.waitUntil(lambda: steps_written(run) > step, timeout=WAIT)  # still training, in its own process

    # A pinned probe refreshes by itself from live weights (a snapshot the run writes on request).
    inspector.probe.timer.setInterval(100)
    inspector.pin_button.click()
    qtbot.waitUntil(lambda: inspector.detail.model_source.startswith("live weights"), timeout=WAIT)
    assert inspector.detail.label == "Hormiga.jpg" and window.controller.state == "running"
    inspector.pin_button.click()
    assert window.controller.shutdown()


def test_images_on_the_command_line_open_with_the_checkpoint(qtbot, app_settings, runs_root, loose, tmp_path):
    from gui.app import create_window

    path = save_checkpoint(tiny_checkpoint(), tmp_path / "model.pt")
    _app, window = create_window(["--checkpoint", str(path), str(loose / "coffee.png")], runs_root, app_settings)
    qtbot.addWidget(window)
    try:
        detail = wait_detail(qtbot, window.inspector, "coffee.png")
        assert window.tabs.currentWidget() is window.inspector
        assert detail.model_source == str(path)
    finally:
        assert window.inspector.shutdown(WAIT)
        if window.controller is not None:
            window.controller.shutdown()


def test_paste_image_from_the_clipboard_and_text_fields_keep_their_paste(qtbot, window, inspector, loose):
    from PySide6.QtGui import QGuiApplication, QImage, QKeySequence

    window.hub.set_checkpoint(tiny_checkpoint(), "unit test")
    assert window.open_image_action.shortcut() == QKeySequence("Ctrl+I")
    assert window.paste_image_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Paste)
    clipboard = QGuiApplication.clipboard()
    clipboard.setImage(QImage(str(loose / "rocket.jpg")))
    window.paste_image_action.trigger()
    assert window.tabs.currentWidget() is inspector
    wait_detail(qtbot, inspector, "pasted image")

    # Ctrl+V in a form field pastes text there; the inspector is not asked.
    window.tabs.setCurrentIndex(0)
    field = window.panel.lr
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    field.clear()
    clipboard.setText("0.05")
    shown = inspector.detail
    qtbot.keyClick(field, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert field.text() == "0.05"
    assert window.tabs.currentIndex() == 0 and inspector.detail is shown


def test_drop_before_the_first_epoch_ends_is_answered_with_a_snapshot_of_the_live_weights(
        qtbot, window, inspector, loose):
    window.panel.set_values({"epochs": 200, "train_count": 480})
    with qtbot.waitSignal(window.controller.recordsArrived, timeout=180_000, check_params_cb=has_steps):
        window.start_training()
    window.controller.pause()  # no epoch can end meanwhile
    handle = window.controller.handle
    qtbot.waitUntil(lambda: handle.status == "paused", timeout=WAIT)  # the run says so in its records
    if any(json.loads(line)["kind"] == "epoch" for line in (handle.folder / "metrics.jsonl").read_text().splitlines()):
        pytest.skip("the first epoch ended before the pause; the epoch-checkpoint path is tested above")
    assert window.hub.current() is None
    drop(window, [loose / "abeja.jpg"])  # no model yet: the run is asked for a copy of its weights
    detail = wait_detail(qtbot, inspector, "abeja.jpg")
    assert detail.model_source.startswith("live weights")
    assert window.hub.current().training_state is None and window.controller.state == "paused"
    assert not (handle.folder / "last.pt").exists()  # not a checkpoint: RUN/live.pt, written on request
    window.controller.resume()
    assert window.controller.shutdown()
