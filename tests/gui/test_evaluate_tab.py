"""The Evaluate tab: evaluate a tiny checkpoint, drill into a cell, correct labels, compare, export."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from tests.core.evalkit import train_tiny_run, write_shapes_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_shapes_folder(tmp_path_factory.mktemp("shapes_folder"), per_class=8, size=32)


@pytest.fixture(scope="module")
def run(tmp_path_factory, folder):
    return train_tiny_run(tmp_path_factory.mktemp("run"), dataset=str(folder), epochs=1, image_size=32,
                          evaluate_at_end=False)


@pytest.fixture
def tab(qtbot):
    from gui.app import make_application
    from gui.evaluate import EvaluateTab
    from gui.model_hub import ModelHub

    make_application()
    hub = ModelHub()
    t = EvaluateTab(hub)
    t.hub_ref = hub
    qtbot.addWidget(t)
    t.resize(1100, 700)
    t.show()
    yield t
    t.shutdown()


def evaluate(tab, qtbot, checkpoint):
    page = tab.evaluate_page
    page.source.setCurrentText("Checkpoint file")
    page.checkpoint_path.setText(str(checkpoint))
    with qtbot.waitSignal(page.evaluated, timeout=60_000):
        page.evaluate_button.click()
    return page.result


def click_cell(qtbot, heatmap, true_index, predicted_index):
    """A real mouse click in the middle of the cell."""
    scene = heatmap.getViewBox().mapViewToScene(QPointF(predicted_index + 0.5, true_index + 0.5))
    qtbot.mouseClick(heatmap.viewport(), Qt.MouseButton.LeftButton, pos=heatmap.mapFromScene(scene))


def test_evaluate_shows_counts_and_a_cell_click_shows_its_images(tab, qtbot, run):
    page = tab.evaluate_page
    assert page.heatmap.hint.shown and "Press Evaluate" in page.heatmap.hint.text  # not axes from -400 to 400
    assert not page.heatmap.getPlotItem().getAxis("left").isVisible()
    assert page.progress.text() == "no evaluation yet"  # not "0%" of a pass that never started
    result = evaluate(tab, qtbot, run / "best.pt")
    assert not page.heatmap.hint.shown and page.heatmap.getPlotItem().getAxis("left").isVisible()
    assert page.heatmap.values.sum() == len(result.files) > 0  # every image is in one cell
    assert "top-1" in page.summary.text() and "ECE" in page.summary.text()
    assert page.progress.text() == f"done: {len(result.files)} images"  # not "evaluating 72/72" when done
    assert len(result.classes) <= 5 and "top-5" not in page.summary.text()  # always 100 % with so few classes
    assert page.table.rowCount() == len(result.classes)
    assert sum(int(page.table.item(r, 4).text()) for r in range(page.table.rowCount())) == len(result.files)
    t, p = np.unravel_index(np.argmax(result.confusion), result.confusion.shape)
    with qtbot.waitSignal(page.gallery.firstThumbnails, timeout=10_000):
        click_cell(qtbot, page.heatmap, int(t), int(p))
    shown = [item["file"] for item in page.gallery.model_.items]
    assert shown == [result.files[i] for i in result.cell(int(t), int(p))]
    assert page.gallery.model_.pixmaps  # real thumbnails, not only placeholders
    from gui.evaluate.gallery import THUMB

    assert {(p.width(), p.height()) for p in page.gallery.model_.pixmaps.values()} == {(THUMB, THUMB)}  # one shape
    page.normalise.setChecked(True)
    assert np.allclose(page.heatmap.values.sum(axis=1)[result.confusion.sum(axis=1) > 0], 1.0)
    with qtbot.waitSignal(tab.inspectRequested) as blocker:
        page.gallery.clicked.emit(page.gallery.model_.index(0))
    assert blocker.args == [shown[0], result.classes[t], result.classes[p]]
    with qtbot.waitSignal(page.evaluated, timeout=10_000) as blocker:  # the files written beside the run
        page.open_evaluation(str(run / "eval"))
    assert blocker.args[0].files == result.files and (blocker.args[0].confusion == result.confusion).all()


def test_relabel_and_undo_change_the_corrections_file(tab, qtbot, folder, tmp_path):
    from core.data.corrections import corrections_path

    data = shutil.copytree(folder, tmp_path / "data")
    panel = tab.issues
    panel.dataset.setText(str(data))
    panel.folds.setValue(2)
    panel.epochs.setValue(1)
    panel.find_button.click()
    qtbot.waitUntil(lambda: panel.trust is not None, timeout=60_000)
    # The fold models' out-of-sample accuracy sits above the list (one epoch: far too low to trust it).
    assert not panel.trust_label.isHidden() and f"{panel.trust.accuracy:.0%}" in panel.trust_label.text()
    assert not panel.trust.trusted and "too low to trust" in panel.trust_label.text().lower()
    # The list shows what cleanlab's own rule flags; every image ranked is one choice away.
    flagged = [i.file for i in panel.all_issues if i.flagged]
    shown = panel.show_choice.currentData()
    assert [i.file for i in panel.issues] == (flagged if shown == "flagged" else [i.file for i in panel.all_issues])
    assert shown == ("flagged" if flagged else "all")
    panel.show_choice.setCurrentIndex(panel.show_choice.findData("all"))
    assert panel.table.rowCount() == len(panel.issues) == 40
    panel.table.selectRow(0)
    issue = panel.issues[0]
    target = next(c for c in panel.classes if c != issue.given)
    panel.label_choice.setCurrentText(target)
    with qtbot.waitSignal(panel.correctionsChanged, timeout=10_000):
        panel.relabel_button.click()
    entries = json.loads(corrections_path(data).read_text())["entries"]
    assert list(entries.values()) == [{**list(entries.values())[0], "action": "relabel", "label": target}]
    assert panel.table.item(0, 5).text() == f"→ {target}"
    with qtbot.waitSignal(panel.correctionsChanged, timeout=10_000):
        panel.undo_button.click()
    assert json.loads(corrections_path(data).read_text())["entries"] == {}
    # Relabel again and Apply: the file moves into the class folder; Undo Apply moves it back.
    from pathlib import Path

    source = Path(issue.file)
    with qtbot.waitSignal(panel.correctionsChanged, timeout=10_000):
        panel.relabel_button.click()
    with qtbot.waitSignal(panel.correctionsChanged, timeout=10_000):
        panel.apply(confirm=False)
    assert not source.exists() and (data / target / source.name).is_file()
    assert panel.table.item(0, 5).text() == "applied (moved)"
    with qtbot.waitSignal(panel.correctionsChanged, timeout=10_000):
        panel.undo_apply_button.click()
    assert source.is_file() and not (data / target / source.name).exists()


def test_a_gallery_image_can_be_excluded_and_an_in_memory_one_is_refused(tab, qtbot, run, folder, tmp_path):
    from core.data.corrections import corrections_path

    data = shutil.copytree(folder, tmp_path / "data")
    page = tab.evaluate_page
    page.dataset.setText(str(data))
    page.split.setCurrentText("all")
    result = evaluate(tab, qtbot, run / "best.pt")
    file = result.files[0]
    with qtbot.waitSignal(tab.message, timeout=10_000) as blocker:
        page.gallery.correctionRequested.emit(file, "exclude", "")
    assert blocker.args[0] == "info", blocker.args
    entries = json.loads(corrections_path(data).read_text())["entries"]
    assert [e["action"] for e in entries.values()] == ["exclude"]
    page.show_result(type(result)(result.classes, ["shapes:val/00001"], result.labels[:1], result.probs[:1], "shapes (val)"))
    with qtbot.waitSignal(tab.message) as blocker:
        page.gallery.correctionRequested.emit("shapes:val/00001", "exclude", "")
    assert blocker.args[0] == "warning" and "folder dataset" in blocker.args[1]


def test_compare_two_evaluations_shows_the_deltas(tab, qtbot, run, tmp_path):
    from core.evaluate import EvalResult, evaluate_checkpoint
    from core.evaluate.result import save_evaluation

    before = evaluate_checkpoint(run / "best.pt", out=tmp_path / "a")
    probs = before.probs.copy()
    wrong = np.flatnonzero(before.predicted != before.labels)
    fixed = wrong[:2] if len(wrong) else []
    probs[fixed] = 0.0
    probs[fixed, before.labels[fixed]] = 1.0  # "after" gets these right
    save_evaluation(EvalResult(before.classes, before.files, before.labels, probs, before.source), tmp_path / "b")
    view = tab.compare
    view.paths["A"].setText(str(tmp_path / "a"))
    view.paths["B"].setText(str(tmp_path / "b"))
    view.compare_button.click()
    assert view.heatmap.hint.shown
    qtbot.waitUntil(lambda: view.comparison is not None, timeout=10_000)
    assert view.became_right.count() == len(fixed) and view.became_wrong.count() == 0
    assert f"{len(fixed) / len(before.files) * 100:+.1f} points" in view.summary.text()
    assert view.heatmap.values.sum() == 0 and np.abs(view.heatmap.values).sum() == 2 * len(fixed)
    # Fewer errors off the diagonal and more right answers on it are both better: coloured cool, not by sign.
    coloured = view.heatmap.image.image
    assert len(fixed) and coloured.max() <= 0 < -coloured.min()
    cool, warm = (view.heatmap.colour_map.map(x, mode="float") for x in (0.0, 1.0))
    assert cool[2] > cool[0] and warm[0] > warm[2]  # low (better) blue, high (worse) red
    qtbot.waitUntil(lambda: len(view.became_right.model_.pixmaps) == len(fixed), timeout=10_000)  # thumbnails


def test_export_model_menu_writes_an_onnx_file(qtbot, app_settings, tmp_path, run, folder, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")

    from core.checkpoints.checkpoint import load_checkpoint
    from gui.app import make_application
    from gui.window.main_window import MainWindow

    make_application()
    window = MainWindow(runs_root=tmp_path / "runs", settings=app_settings)
    qtbot.addWidget(window)
    assert window.tabs.indexOf(window.evaluate_tab) >= 0
    window.hub.set_checkpoint(load_checkpoint(run / "best.pt"), "test")
    window.evaluate_tab.inspectRequested.emit(str(next(folder.glob("*/*.png"))), "circle", "square")
    assert window.tabs.currentWidget() is window.inspector  # a gallery click opens the image there
    out = tmp_path / "model.onnx"
    window.export_model_action.trigger()
    dialog = window.export_dialog  # a titled dialog of a sensible size, not an untitled 200-px popup
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    assert dialog.windowTitle() == "Export Model" and dialog.width() >= 500
    dialog.set_format("pt2")
    assert dialog.out_path().endswith("model.pt2")  # the suffix follows the format
    dialog.set_format("onnx")
    dialog.path.setText(str(out))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: window.last_message_box is not None, timeout=120_000)
    assert window.last_message_box.windowTitle() == "Model exported", window.last_message_box.text()
    assert out.is_file() and "top-1 agreement 100.0%" in window.last_message_box.text()
    window.close()


def test_finetune_with_corrections_starts_a_run_from_the_checkpoint(qtbot, app_settings, tmp_path, run):
    import json as json_

    from gui.app import make_application
    from gui.window.main_window import MainWindow

    make_application()
    window = MainWindow(runs_root=tmp_path / "runs", settings=app_settings)
    qtbot.addWidget(window)
    window.load_engine(blocking=True)
    page = window.evaluate_tab.evaluate_page
    page.source.setCurrentText("Checkpoint file")
    page.checkpoint_path.setText(str(run / "best.pt"))
    with qtbot.waitSignal(window.controller.runFinished, timeout=60_000):
        window.evaluate_tab.compare.finetune_button.click()
    config = json_.loads((window.controller.run_dir / "config.json").read_text())
    assert config["finetuned_from"] == str((run / "best.pt").resolve())
    assert config["train"]["lr"] == pytest.approx(json_.loads((run / "config.json").read_text())["train"]["lr"] * 0.1)
    window.close()


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("shapes_run"), epochs=1, image_size=32, evaluate_at_end=False)


def test_a_shapes_evaluation_shows_real_pixels_and_opens_in_the_inspector(qtbot, app_settings, tmp_path, shapes_run):
    from core.checkpoints.checkpoint import load_checkpoint
    from gui.app import make_application
    from gui.window.main_window import MainWindow

    make_application()
    window = MainWindow(runs_root=tmp_path / "runs", settings=app_settings)
    qtbot.addWidget(window)
    window.load_engine(blocking=True)
    window.hub.set_checkpoint(load_checkpoint(shapes_run / "best.pt"), "test")
    tab = window.evaluate_tab
    result = evaluate(tab, qtbot, shapes_run / "best.pt")  # the built-in shapes set: no files on disk
    page = tab.evaluate_page
    assert result.files[0].startswith("shapes:val/")
    t, p = np.unravel_index(np.argmax(result.confusion), result.confusion.shape)
    with qtbot.waitSignal(page.gallery.firstThumbnails, timeout=10_000):
        page.show_cell(int(t), int(p))
    image = page.gallery.model_.pixmaps[0].toImage()
    colours = {image.pixel(x, y) for x in range(image.width()) for y in range(image.height())}
    assert len(colours) > 1  # a drawn shape, not the one-colour grey placeholder
    with qtbot.waitSignal(tab.inspectRequested) as blocker:
        page.gallery.clicked.emit(page.gallery.model_.index(0))
    opened = blocker.args[0]
    assert opened.endswith(".png") and Path(opened).is_file()
    assert window.tabs.currentWidget() is window.inspector  # a click opens it there, with two maps:
    inspector = window.inspector
    qtbot.waitUntil(lambda: inspector.saliency is not None and inspector.saliency.compare_target == int(t),
                    timeout=30_000)
    assert inspector.detail.label == Path(opened).name
    assert inspector.saliency.error is None and inspector.saliency.compare_heatmap is not None
    assert inspector.saliency.target == inspector.detail.inspection.top_class  # predicted (left), true (right)
    window.close()


def test_a_shared_evaluation_opens_no_file_outside_its_folders_and_thumbnails_keep_the_image_limits(
        tab, qtbot, folder, tmp_path):
    """per_image.csv names a local file outside the evaluation and its dataset, and images over the limits:
    the gallery (which opens on a cell without a click) shows none of them, and a click opens nothing."""
    from core.evaluate.result import EvalResult, save_evaluation
    from tests.core.hostile_files import png_bytes, small_png, wide_png

    outside = small_png(tmp_path / "private.png")
    huge = tmp_path / "eval" / "huge.png"
    huge.parent.mkdir()
    huge.write_bytes(png_bytes(17_234, 17_234, pixels=False))  # 297 MP in a tiny file: refused from its header
    wide = wide_png(tmp_path / "eval" / "wide.png")
    good = sorted((folder / "circle").iterdir())[0]
    files = [str(outside), str(huge), str(wide), str(good)]
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    labels = np.zeros(len(files), dtype=np.int64)
    probs = np.zeros((len(files), len(classes)))
    probs[:, 0] = [0.99, 0.98, 0.97, 0.5]  # the outside file first, as the most confident
    probs[:, 1] = 1 - probs[:, 0]
    save_evaluation(EvalResult(classes, files, labels, probs, f"{folder} (val)"), tmp_path / "eval")
    page = tab.evaluate_page
    with qtbot.waitSignal(page.evaluated, timeout=10_000):
        page.open_evaluation(str(tmp_path / "eval"))
    with qtbot.waitSignal(page.gallery.firstThumbnails, timeout=10_000):
        page.show_cell(0, 0)
    assert [item["file"] for item in page.gallery.model_.items] == files
    assert sorted(page.gallery.model_.pixmaps) == [3]  # only the dataset's own image has a thumbnail
    with qtbot.assertNotEmitted(tab.inspectRequested):
        page.gallery.clicked.emit(page.gallery.model_.index(0))
    assert "outside" in page.gallery_title.text()
