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
    qtbot.waitUntil(lambda: not p._task.busy, timeout=WAIT)


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

    panel.open_run(str(short_run))
    qtbot.waitUntil(lambda: panel.run_maps is not None, timeout=WAIT)
    spot = panel.scatter.points()[0]
    panel._on_hover(panel.scatter, [spot])  # an in-memory shapes image: named, no file to show
    qtbot.waitUntil(lambda: panel.hover_image.text() == "(no file)", timeout=WAIT)
    assert panel.hovered_path == panel.run_maps.maps[-1].features.ids[int(spot.data())]

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
