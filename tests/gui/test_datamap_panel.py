"""The Map tab replays a short run's map over its two epochs (features kept with --embed-every 1), aligned;
colours follow the choice; a damaged epoch file is skipped with the reason; a folder without features says so."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.cli.main import main
from gui.datamap import MapPanel

WAIT = 60_000


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("map_run") / "run"
    try:
        assert main(["train", "--shapes-count", "80", "--image-size", "16", "--epochs", "2", "--model", "cnn",
                     "--option", "channels=4", "--option", "blocks=2", "--embed-every", "1",
                     "--out", str(out), "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture
def panel(qtbot):
    p = MapPanel()
    qtbot.addWidget(p)
    p.resize(900, 700)
    p.show()
    yield p
    qtbot.waitUntil(lambda: not (p._task.busy or p._drop_task.busy or p.points_view.task.busy), timeout=WAIT)


def test_the_map_replays_two_epochs_of_a_short_run(qtbot, panel, short_run):
    from core.datamap.replay import replay_run

    panel.open_run(str(short_run))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    assert [m.epoch for m in panel.run_maps.maps] == [1, 2]
    assert panel.slider.isEnabled() and panel.slider.maximum() == 1 and panel.epoch_label.text() == "epoch 2"
    expected, _ = replay_run(short_run, "pca")
    assert np.allclose(panel.shown_points(), expected[1].points, atol=1e-4)

    panel.slider.setValue(0)
    assert panel.epoch_label.text() == "epoch 1"
    assert np.allclose(panel.shown_points(), expected[0].points, atol=1e-4)

    panel.play_button.click()  # plays to the last epoch and stops there
    qtbot.waitUntil(lambda: not panel.play_button.isChecked(), timeout=WAIT)
    assert panel.slider.value() == 1 and panel.epoch_label.text() == "epoch 2"

    panel.colour.setCurrentIndex(panel.colour.findData("right"))
    assert len(panel.shown_points()) == len(expected[1].features)


def test_a_damaged_epoch_file_is_skipped_and_a_folder_without_features_says_so(qtbot, panel, short_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(short_run, copy)
    (copy / "familiarity" / "epoch-0001.npz").write_bytes(b"damaged")
    panel.open_run(str(copy))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    assert [m.epoch for m in panel.run_maps.maps] == [2] and "1 damaged epoch files skipped" in panel.status.text()
    assert not panel.slider.isEnabled()

    empty = tmp_path / "empty"
    empty.mkdir()
    panel.open_run(str(empty))
    qtbot.waitUntil(lambda: panel.status.text().startswith("No map:"), timeout=WAIT)
    assert "--embed-every" in panel.status.text()


def test_hovering_a_point_shows_its_image_decoded_in_the_background_and_cached(qtbot, panel, short_run, tmp_path):
    from PIL import Image
    from PySide6.QtCore import QPointF

    panel.open_run(str(short_run))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    point = panel.shown_points()[0]  # the mouse over the first point: found by the k-d tree
    panel._on_mouse_moved(panel.view_box.mapViewToScene(QPointF(float(point[0]), float(point[1]))))
    qtbot.waitUntil(lambda: panel.hover_image.text() == "(no file)", timeout=WAIT)  # in-memory shapes: no file
    ids = panel.run_maps.maps[-1].features.ids
    assert panel.hovered_path in {ids[i] for i in np.flatnonzero((panel.shown_points() == point).all(axis=1))}

    photo = tmp_path / "red.png"
    Image.new("RGB", (300, 200), (200, 40, 40)).save(photo)
    panel.show_hover(str(photo), "red")
    qtbot.waitUntil(lambda: panel.hover_image.pixmap() is not None and not panel.hover_image.pixmap().isNull(),
                    timeout=WAIT)
    assert panel.hover_image.pixmap().width() <= 96 and str(photo) in panel._thumbs
    panel.show_hover("elsewhere", "x")
    panel.show_hover(str(photo), "red")  # from the cache, at once
    assert not panel.hover_image.pixmap().isNull()
    qtbot.waitUntil(lambda: not panel._thumb_task.busy, timeout=WAIT)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A short run on an image folder (plain colour squares), its features kept at each epoch."""
    from PIL import Image

    root = tmp_path_factory.mktemp("map_folder")
    rng = np.random.default_rng(0)
    for name, colour in {"blue": (40, 60, 200), "green": (40, 180, 60), "red": (200, 40, 40)}.items():
        (root / "colours" / name).mkdir(parents=True)
        for i in range(10):
            shade = tuple(int(c) for c in np.clip(np.array(colour) + rng.integers(-25, 26, 3), 0, 255))
            Image.new("RGB", (16, 16), shade).save(root / "colours" / name / f"{name}{i:02d}.png")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", "--dataset", str(root / "colours"), "--image-size", "16", "--epochs", "1",
                     "--model", "cnn", "--option", "channels=4", "--option", "blocks=2", "--embed-every", "1",
                     "--out", str(root / "run"), "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    return root / "run", root / "colours"


def test_a_lasso_selection_relabelled_lands_in_the_corrections_file_and_undo_removes_it(qtbot, panel, folder_run):
    from core.data.corrections import load_corrections

    run, dataset = folder_run
    panel.open_run(str(run))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    assert not panel.relabel_button.isEnabled()  # nothing selected yet
    points = panel.run_maps.maps[-1].points
    (x0, y0), (x1, y1) = points.min(axis=0) - 1, points.max(axis=0) + 1
    panel.lasso_button.click()
    assert panel.view_box.lasso
    panel.view_box.lassoFinished.emit(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))  # around every point
    files = panel.selected_files()
    assert len(panel.selected) == len(points) == len(files) == 30 and panel.relabel_button.isEnabled()

    panel.relabel_as.setCurrentText("blue")
    panel.relabel_button.click()
    qtbot.waitUntil(lambda: panel.undo_button.isEnabled(), timeout=WAIT)
    entries = load_corrections(dataset).entries
    assert len(entries) == 30 and all(e == {**e, "action": "relabel", "label": "blue"} for e in entries.values())
    assert {str(dataset / key) for key in entries} == {str(f) for f in files}

    panel.undo_button.click()
    qtbot.waitUntil(lambda: not panel.undo_button.isEnabled(), timeout=WAIT)
    assert load_corrections(dataset).entries == {}
    assert "undone: 30" in panel.status.text()


def _drag_to(viewport, point) -> None:
    """One mouse move with the left button held, delivered at once (QTest.mouseMove goes through the window
    system's queue, where successive moves are merged into one, and carries no held button)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    local = QPointF(point)
    event = QMouseEvent(QEvent.Type.MouseMove, local, QPointF(viewport.mapToGlobal(point)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


@pytest.fixture
def every_mouse_move():
    """pyqtgraph drops mouse moves closer than 10 ms apart (mouseRateLimit, 100 a second); a test's moves come
    microseconds apart, where a hand's come milliseconds apart, so the limit is lifted while it runs."""
    import pyqtgraph as pg

    limit = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOption("mouseRateLimit", -1)
    yield
    pg.setConfigOption("mouseRateLimit", limit)


def test_a_lasso_drawn_with_the_mouse_selects_the_points_inside_it(qtbot, panel, folder_run, every_mouse_move):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtTest import QTest

    panel.open_run(str(folder_run[0]))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    qtbot.waitExposed(panel)
    view = panel.plot  # the QGraphicsView; its viewport receives the mouse
    viewport = view.viewport()
    scene_x = [view.mapFromScene(panel.view_box.mapViewToScene(QPointF(float(x), float(y)))).x()
               for x, y in panel.shown_points()]
    middle = int(np.median(scene_x)) + 1  # the left half of the points (and not one exactly on the line)
    expected = {row for row, x in enumerate(scene_x) if x < middle}
    assert 0 < len(expected) < 30
    panel.lasso_button.click()
    top, bottom = 2, viewport.height() - 3
    corners = [QPoint(2, top), QPoint(middle, top), QPoint(middle, bottom), QPoint(2, bottom), QPoint(2, top + 1)]
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corners[0])
    for a, b in zip(corners, corners[1:]):  # along each side in small steps, as a hand would
        for t in np.linspace(0.0, 1.0, 8)[1:]:
            _drag_to(viewport, QPoint(int(a.x() + t * (b.x() - a.x())), int(a.y() + t * (b.y() - a.y()))))
    with qtbot.waitSignal(panel.view_box.lassoFinished, timeout=5_000) as finished:
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corners[-1])
    assert len(finished.args[0]) > 20  # every move a point of the outline
    assert set(panel.selected.tolist()) == expected
    assert panel.selection_label.text().startswith(f"{len(expected)} selected")


def test_a_dropped_image_is_marked_where_it_falls_and_the_next_drop_replaces_the_mark(qtbot, panel, folder_run):
    run, dataset = folder_run
    panel.open_run(str(run))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    ids = panel.run_maps.maps[-1].features.ids
    for name in ("red03.png", "blue07.png"):  # a training image dropped again falls on its own point (PCA)
        photo = str(dataset / name[:-6] / name)
        panel.place_dropped(photo)
        qtbot.waitUntil(lambda: panel.dropped is not None and panel.dropped.image == photo, timeout=WAIT)
        own = panel.shown_points()[ids.index(photo)]
        assert panel.dropped.checkpoint == "last.pt" and panel.dropped.map_index == 0
        assert np.allclose(panel.dropped.point, own, atol=0.02 * np.ptp(panel.shown_points(), axis=0).max())
        x, y = panel.drop_mark.getData()
        assert len(x) == 1 and np.allclose([x[0], y[0]], panel.dropped.point)  # one mark: the last drop's
        assert name in panel.drop_text.toPlainText() and name in panel.status.text()

    panel.place_dropped(str(dataset))  # not an image: said, and the mark stays
    qtbot.waitUntil(lambda: "not placed" in panel.status.text(), timeout=WAIT)
    assert panel.dropped.image.endswith("blue07.png")


def test_a_lasso_selection_pinned_as_probes_is_what_the_next_run_follows(qtbot, panel, folder_run):
    from core import catalog
    from gui.window.wiring import pinned_probe_gets_a_timeline_in_the_run

    class Train:  # the one attribute the connection sets on the Train tab
        probe_images_provider = None

    class Inspector:
        def __init__(self, pinned):
            self.pinned = pinned

        def pinned_probe_paths(self):
            return self.pinned

    panel.open_run(str(folder_run[0]))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    assert not panel.pin_button.isEnabled()  # nothing selected
    panel.select_rows(np.arange(3))
    panel.pin_button.click()
    chosen = panel.selected_files()
    assert panel.pinned_probe_paths() == chosen and len(chosen) == 3 and panel.unpin_button.text() == "Unpin 3"

    train, inspector = Train(), Inspector([chosen[1], "/elsewhere/probe.png"])
    pinned_probe_gets_a_timeline_in_the_run(train, inspector, panel)
    assert train.probe_images_provider() == [chosen[1], "/elsewhere/probe.png", chosen[0], chosen[2]]  # once each

    panel.select_rows(np.arange(30))  # more than a run follows: the first ones, and it says so
    panel.pin_button.click()
    limit = catalog.PROBE_IMAGES.maximum
    assert panel.pinned_probe_paths() == panel.selected_files()[:limit] and f"first {limit} of 30" in panel.status.text()
    assert len(train.probe_images_provider()) == limit
    panel.unpin_button.click()
    assert panel.pinned_probe_paths() == [] and not panel.unpin_button.isEnabled()


def test_label_issue_scores_colour_the_map_when_there_are_some_and_the_colour_is_greyed_until_then(
        qtbot, panel, folder_run, tmp_path):
    import shutil

    from PySide6.QtCore import Qt

    from core.evaluate.label_issues import LabelIssue, write_label_issues
    from core.runs.layout import RunLayout
    from gui.datamap.panel import NO_ISSUES_TIP

    run = tmp_path / "run"
    shutil.copytree(folder_run[0], run)
    panel.open_run(str(run))
    qtbot.waitUntil(lambda: panel.run_maps is not None and panel.run_maps.run_dir == run, timeout=WAIT)
    index = panel.colour.findData("issues")
    assert index >= 0 and not panel.colour.model().item(index).isEnabled()
    assert panel.colour.itemData(index, Qt.ItemDataRole.ToolTipRole) == NO_ISSUES_TIP

    ids = panel.run_maps.maps[-1].features.ids
    scores = {file: (1.0 if i == 0 else 0.0) for i, file in enumerate(ids)}  # the first looks mislabelled
    panel.set_label_issues(scores)  # what the Evaluate tab's finished pass gives (wiring.py)
    assert panel.colour.model().item(index).isEnabled()
    panel.colour.setCurrentIndex(index)
    assert "likely mislabelled" in panel.legend.text()
    red, green = panel._colours(panel.run_maps.maps[-1].features)[[0, 1]]
    assert red[0] > 200 > red[1] and green[1] > 150 > green[0]

    panel.set_label_issues({})  # another dataset's pass: nothing for this run
    assert not panel.colour.model().item(index).isEnabled() and panel.colour.currentData() != "issues"

    issues = [LabelIssue(file, "red", "blue", 0.9 if i < 3 else 0.1, i < 3) for i, file in enumerate(ids)]
    write_label_issues(issues, RunLayout(run).label_issues)  # `layerscope label-issues --out RUN/eval/...`
    panel.open_run(str(run))
    qtbot.waitUntil(lambda: panel.run_maps.issues is not None, timeout=WAIT)
    assert panel.colour.model().item(index).isEnabled()
    assert np.allclose(panel.issue_scores(panel.run_maps.maps[-1].features), [i.score for i in issues])


def test_a_run_on_built_in_data_offers_no_corrections(qtbot, panel, short_run):
    panel.open_run(str(short_run))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    panel.select_rows(np.arange(5))
    assert not panel.relabel_button.isEnabled() and "image files" in panel.selection_label.text()


def test_a_run_whose_best_pt_has_a_bank_can_be_coloured_by_familiarity(qtbot, panel, folder_run, short_run, tmp_path):
    import shutil

    from core.familiarity.jobs import build_bank

    run = tmp_path / "run"
    shutil.copytree(folder_run[0], run)
    panel.open_run(str(short_run))  # no bank: no such colour
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    assert panel.colour.findData("familiarity") < 0

    build_bank(run / "best.pt")
    panel.open_run(str(run))
    qtbot.waitUntil(lambda: panel.run_maps is not None and panel.run_maps.run_dir == run, timeout=WAIT)
    scores = panel.run_maps.familiarity
    assert scores is not None and set(scores) == set(panel.run_maps.maps[-1].features.ids)
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    panel.colour.setCurrentIndex(panel.colour.findData("familiarity"))
    assert "unfamiliar" in panel.legend.text() and len(panel.shown_points()) == 30


def test_the_points_picture_puts_each_dot_where_its_point_is_rings_validation_and_selection():
    from gui.datamap.raster import draw_points, rgba32

    points = np.array([[2.5, 2.5], [7.5, 7.5], [7.5, 2.5]])
    colours = rgba32(np.array([[200, 0, 0], [0, 0, 200], [0, 150, 0]]))
    picture = draw_points(points, colours, np.array([False, True, False]), (0.0, 0.0, 10.0, 10.0), (100, 100),
                          radius=4.0, selected=np.array([2]))
    assert tuple(picture[25, 25]) == (200, 0, 0, 255)  # row 0 is the bottom: y 2.5 -> row 25
    assert tuple(picture[75, 75]) == (255, 255, 255, 255) and tuple(picture[75, 79]) == (0, 0, 200, 255)  # a ring
    assert tuple(picture[25, 75]) == (0, 150, 0, 255) and tuple(picture[25, 81]) == (0, 0, 0, 255)  # selected
    assert picture[50, 50, 3] == 0 and picture[..., 3].astype(bool).sum() < 3 * 120  # elsewhere: transparent


def test_a_big_maps_picture_is_drawn_in_the_background_and_only_the_newest_is_shown(qtbot, panel, folder_run,
                                                                                     monkeypatch):
    import gui.datamap.points_view as points_view

    monkeypatch.setattr(points_view, "ASYNC_POINTS", 0)  # 30 points take the path of 100,000
    panel.open_run(str(folder_run[0]))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    view = panel.points_view
    qtbot.waitUntil(lambda: view.drawn_rect is not None and not view.task.busy, timeout=WAIT)
    panel.colour.setCurrentIndex(panel.colour.findData("right"))  # two redraws in a row: the second one wins
    panel.select_rows(np.arange(4))
    qtbot.waitUntil(lambda: not view.task.busy, timeout=WAIT)
    qtbot.waitUntil(lambda: np.array_equal(view.image.image, view.picture()), timeout=WAIT)
    black = (view.image.image == (0, 0, 0, 255)).all(axis=-1)  # opaque black: the selection's rings
    assert black.sum() > 0


def test_an_image_dropped_on_the_window_is_marked_on_the_map_tab(qtbot, window, folder_run):
    run, dataset = folder_run
    datamap = window.datamap
    datamap.open_run(str(run))
    qtbot.waitUntil(lambda: datamap.run_maps is not None, timeout=WAIT)
    photo = str(dataset / "green" / "green04.png")
    window.tabs.setCurrentWidget(datamap)
    window.route_drop([photo])  # what a drop on the window does: inspected in Inspect, and marked on the map
    qtbot.waitUntil(lambda: datamap.dropped is not None, timeout=WAIT)
    assert window.tabs.currentWidget() is datamap  # dropped on the map: the map stays in front
    assert datamap.dropped.image == photo and "green04.png" in datamap.drop_text.toPlainText()
    qtbot.waitUntil(lambda: not (datamap._task.busy or datamap._drop_task.busy or datamap.points_view.task.busy),
                    timeout=WAIT)
