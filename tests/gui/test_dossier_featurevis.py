"""The Dossier's synthesised pictures and concept tests over a real (tiny) run that kept its top images and its
first layer's pictures after every epoch: real and synthesised side by side with their sanity numbers, the
epoch slider replaying the kept pictures, a cancel that stops the optimisation, and a concept test's table and
chart. Every view's background tasks are shut down at the end."""
from __future__ import annotations

import numpy as np
import pytest

from tests.core.dossierkit import train_learnable_run, write_learnable_folder

QUICK_STEPS = 12  # pictures in a few seconds; the engine's own tests check what more steps reach


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("featurevis_gui_run")
    folder = write_learnable_folder(tmp / "data", per_class=10)
    run, _ = train_learnable_run(tmp / "run", folder, epochs=2, dossier_topk=True, feature_pictures=True)
    return run


@pytest.fixture
def channels(qtbot, run_dir):
    from core.featurevis.optimize import VisSettings
    from gui.dossier.channels import ChannelsView

    view = ChannelsView()
    qtbot.addWidget(view)
    view.pictures.settings = VisSettings(steps=QUICK_STEPS)
    with qtbot.waitSignal(view.layerShown, timeout=60_000):
        view.open_run(str(run_dir))
    yield view
    view.shutdown()


def _show(qtbot, view, layer: str, mode: str, timeout: int = 120_000) -> np.ndarray:
    """The grid once `layer` is drawn in `mode` with every picture in it."""
    units = view.dossier.result.layers[layer].channels

    def drawn() -> bool:
        name, shown_mode, vis = view.drawn or (None, None, None)
        complete = mode == "real" or (vis is not None and len(vis.pictures) == units)
        return (name, shown_mode) == (layer, mode) and complete

    view.layers.setCurrentText(layer)
    view.set_mode(mode)
    qtbot.waitUntil(drawn, timeout=timeout)
    return view.grid.base.image.copy()


def test_real_and_synthesised_side_by_side_with_a_sanity_number_under_each_picture(qtbot, channels):
    from core.featurevis.grid import sanity_caption

    real = _show(qtbot, channels, "features.4", "real")
    both = _show(qtbot, channels, "features.4", "both")
    vis = channels.shown_pictures
    units = channels.dossier.result.layers["features.4"].channels
    assert [p.unit for p in vis.pictures] == list(range(units)) and vis.layer == "features.4"
    geo = channels.geometry
    assert geo.mode == "both" and both.shape[1] > real.shape[1]  # each cell: the crops, then the picture
    y, x = geo.origin(0)
    real_side = both[y:y + geo.tile, x:x + geo.tile]
    picture_side = both[y:y + geo.tile, x + geo.picture_x():x + geo.picture_x() + geo.tile]
    assert real_side.std() > 0 and picture_side.std() > 0 and not np.array_equal(real_side, picture_side)
    # Every picture has its number (the activation over the strongest real image's, for this deep layer).
    assert all(sanity_caption(p)[0].startswith("x") for p in vis.pictures)
    synthesised = _show(qtbot, channels, "features.4", "synthesised")
    assert synthesised.shape != both.shape and channels.shown_pictures is vis  # drawn from memory, not again
    synthesised_geo = channels.geometry
    y, x = synthesised_geo.origin(3)
    with qtbot.waitSignal(channels.channelShown, timeout=30_000) as picked:
        channels._grid_clicked(float(x + 2), float(y + 2))  # inside the fourth cell
    assert picked.args == ["features.4", 3] and "synthesised picture (first" in channels.detail_title.text()


def test_the_output_layer_gets_one_picture_per_class(qtbot, channels):
    both = _show(qtbot, channels, "classifier.2", "both")
    vis = channels.shown_pictures
    assert vis.kind == "output" and [p.label for p in vis.pictures] == ["circle", "square", "triangle"]
    assert all(p.class_probability is not None for p in vis.pictures) and both.std() > 0


def test_the_epoch_slider_replays_the_first_layers_pictures(qtbot, channels):
    first = _show(qtbot, channels, "features.0", "both")
    assert channels.epoch_row.isVisibleTo(channels) and channels.pictures.epochs == [0, 1, 2]
    assert channels.epoch_slider.value() == 2 and channels.shown_pictures.notes == ["epoch 2"]
    channels.epoch_slider.setValue(0)
    qtbot.waitUntil(lambda: channels.drawn[2] is not None and channels.drawn[2].notes == ["epoch 0"], timeout=30_000)
    start = channels.grid.base.image.copy()
    assert channels.shown_pictures.notes == ["epoch 0"] and "starting weights" in channels.epoch_label.text()
    assert start.shape == first.shape and not np.array_equal(start, first)
    assert all(p.weight_correlation > 0.9 for p in channels.shown_pictures.pictures)
    channels.set_mode("real")
    assert not channels.epoch_row.isVisibleTo(channels)


def test_cancel_stops_making_pictures(qtbot, channels):
    from core.featurevis.optimize import VisSettings

    channels.pictures.settings = VisSettings(steps=100_000, seed=7)  # not in the cache: it must optimise
    channels.layers.setCurrentText("features.4")
    with qtbot.waitSignal(channels.pictures.progress, timeout=60_000):
        channels.set_mode("synthesised")
    assert channels.cancel_button.isVisibleTo(channels)
    channels.cancel_button.click()
    qtbot.waitUntil(lambda: channels.pictures._task.wait(0), timeout=30_000)  # stopped within a step or so
    assert not channels.cancel_button.isVisibleTo(channels) and channels.pictures.pictures("features.4") is None


def test_a_concept_test_fills_the_table_and_the_chart(qtbot, run_dir, tmp_path):
    from PIL import Image

    from core.featurevis import concept_images
    from gui.dossier.concepts import ConceptsView

    view = ConceptsView()
    qtbot.addWidget(view)
    try:
        with qtbot.waitSignal(view.opened, timeout=60_000):
            view.open_run(str(run_dir))
        assert view.layers.currentText() == "features.4"  # the last conv layer
        assert view.ticked() == ["stripes", "dots", "checkerboard", "solid", "noise"]
        for i, picture in enumerate(concept_images.generate("dots", 8, 32, seed=3)):
            Image.fromarray(picture).save(tmp_path / f"d{i}.png")
        view.add_concept_folder(str(tmp_path))
        view.set_ticked(["stripes", str(tmp_path)])
        view.classes.setCurrentText("square")
        view.random_runs.setValue(2)
        view.images.setValue(6)
        with qtbot.waitSignal(view.resultShown, timeout=120_000):
            view.run_button.click()
        rows = [[view.table.item(r, c).text() for c in range(view.table.columnCount())]
                for r in range(view.table.rowCount())]
        assert [r[0] for r in rows] == ["stripes", tmp_path.name]
        assert all(r[-1] in ("significant", "not significant") for r in rows)
        assert view.verdict.text().startswith(("significant", "not significant"))
        kinds = [type(i).__name__ for i in view.chart.getPlotItem().items]
        assert kinds.count("BarGraphItem") == 2 and kinds.count("ErrorBarItem") == 2
        assert (run_dir / "featurevis" / "concepts" / "tcav-square-features.4.csv").is_file()
    finally:
        view.shutdown()
