"""The dossier views over a real (tiny) run: channels grid -> a channel's images and class bars, health
plots and warnings, the probe timeline slider. Every view's background task is shut down at the end."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.core.dossierkit import train_learnable_run, write_learnable_folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dossier_run")
    folder = write_learnable_folder(tmp / "data", per_class=10)
    loose = tmp / "loose_square.png"  # a probe from outside the class folders: no true class known
    shutil.copy(folder / "square" / "square_003.png", loose)
    probes = [str(folder / "circle" / "circle_000.png"), str(loose)]
    run, _ = train_learnable_run(tmp / "run", folder, epochs=2, dossier_topk=True, layer_health_every=2,
                                 probe_images=probes)
    return run


@pytest.fixture
def panel(qtbot):
    from gui.dossier.panel import DossierPanel

    panel = DossierPanel()
    qtbot.addWidget(panel)
    yield panel
    panel.shutdown()


def test_channels_grid_then_one_channel_with_class_means(qtbot, panel, run_dir):
    with qtbot.waitSignal(panel.channels.layerShown, timeout=60_000) as shown:
        panel.open_run(str(run_dir))
    assert shown.args == ["features.0"]
    assert not panel.channels.dossier.computed  # kept during training, read back
    grid = panel.channels.grid.base.image
    assert grid.ndim == 3 and grid.shape[2] == 3 and grid.std() > 0
    assert panel.channels.class_hint.shown and not panel.channels.detail.isVisibleTo(panel)  # says what to click
    with qtbot.waitSignal(panel.channels.channelShown, timeout=30_000) as picked:
        panel.channels._grid_clicked(5.0, 5.0)  # inside the first tile
    assert picked.args == ["features.0", 0]
    detail = panel.channels.detail.base.image
    assert detail.shape[0] >= 32 and detail.shape[1] >= 3 * 32
    bars = [i for i in panel.channels.class_plot.listDataItems()] + panel.channels.class_plot.getPlotItem().items
    assert any(type(b).__name__ == "BarGraphItem" for b in bars)
    assert not panel.channels.class_hint.shown and panel.channels.detail.isVisibleTo(panel)
    axis = panel.channels.class_plot.getAxis("left")
    panel.channels.class_plot.setYRange(0, 0.004, padding=0)  # a late layer's small means
    assert axis.autoSIPrefixScale == 1.0 and "x0" not in axis.labelString()  # 0.004, not "4 (x0.001)", clipped


def test_health_view_plots_each_layer(qtbot, panel, run_dir):
    with qtbot.waitSignal(panel.health.loaded, timeout=30_000) as loaded:
        panel.health.open_run(str(run_dir))
    assert loaded.args[0] > 0
    assert panel.health.layers.count() >= 4 and panel.health.warning_list.count() >= 1
    steps, norms = panel.health.series("features.0", "weight_norm")
    assert len(steps) == loaded.args[0] and np.all(norms > 0)
    panel.health.layers.setCurrentText("features.2")
    assert panel.health.hist_image.image is not None


def test_probe_slider_scrubs_through_snapshots(qtbot, panel, run_dir):
    with qtbot.waitSignal(panel.probes.loaded, timeout=30_000) as loaded:
        panel.probes.open_run(str(run_dir))
    count = loaded.args[0]
    assert count >= 3 and panel.probes.slider.maximum() == count - 1
    panel.probes.slider.setValue(0)
    assert panel.probes.when.text().startswith("epoch 0.00")
    panel.probes.slider.setValue(count - 1)
    assert panel.probes.when.text().startswith("epoch 2.00")
    assert panel.probes.bars.entries() and panel.probes.heat.image is not None


def test_a_probe_without_a_true_class_shows_every_likely_class_and_takes_a_named_one(qtbot, panel, run_dir):
    view = panel.probes
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.open_run(str(run_dir))
    view.probe.setCurrentIndex(1)  # the loose probe
    assert view.true_class.currentData() is None and not view.hint.shown
    assert sorted(view.shown_classes()) == ["circle", "square", "triangle"]  # all three, no blank plot
    low, high = view.plot.getPlotItem().getViewBox().viewRange()[0]
    assert low <= 0.0 and high >= 2.0  # the whole run on the x axis, not a sliver around one step
    heat = view.heat.image
    assert heat is not None and heat.shape == view.image.base.image.shape[:2] and heat.max() > 0.5
    assert "name the true class" in view.when.text()
    with qtbot.waitSignal(view.trueClassSaved, timeout=30_000):
        view.true_class.setCurrentIndex(view.true_class.findData("square"))
        view.true_class.activated.emit(view.true_class.currentIndex())
    assert "square (true)" in view.shown_classes()
    with qtbot.waitSignal(view.loaded, timeout=30_000):  # read back from the run folder
        view.open_run(str(run_dir))
    view.probe.setCurrentIndex(1)
    assert view.true_class.currentData() == "square"
    view.probe.setCurrentIndex(0)  # the class-folder probe knows its class by itself
    assert view.true_class.currentData() == "circle" and "circle (true)" in view.shown_classes()
    with qtbot.waitSignal(view.trueClassSaved, timeout=30_000):
        view.probe.setCurrentIndex(1)
        view.name_true_class(None)  # forgotten again, for the other tests of this module


def test_a_run_without_probes_says_what_to_do_instead_of_a_blank_plot(qtbot, panel, tmp_path):
    view = panel.probes
    assert view.hint.shown and "Open a run" in view.hint.text  # before any run: not "this run has no probes"
    with qtbot.waitSignal(view.loaded, timeout=30_000) as loaded:
        view.open_run(str(tmp_path))
    assert loaded.args == [0]
    assert view.hint.shown and "Pin as probe" in view.hint.text
    assert not view.plot.getPlotItem().getAxis("bottom").isVisible()
    assert view.image.base.image is None and not view.probe.isEnabled()
    assert not view.snapshot_box.isVisibleTo(view)  # no black image pane, no empty bars


def test_health_without_samples_says_what_to_do_and_drops_the_last_runs_plots(qtbot, panel, run_dir, tmp_path):
    health = panel.health
    assert health.is_empty() and "Open a run" in health.hint.text()  # before any run: what to open
    with qtbot.waitSignal(health.loaded, timeout=30_000):
        health.open_run(str(run_dir))
    assert not health.is_empty() and health.norms.listDataItems()
    with qtbot.waitSignal(health.loaded, timeout=30_000) as loaded:
        health.open_run(str(tmp_path))  # a folder without layer health
    assert loaded.args == [0] and health.is_empty() and "--layer-health-every" in health.hint.text()
    assert not health.norms.listDataItems() and health.hist_image.image is None  # nothing stale behind it


def test_health_log_axes_label_only_one_two_five():
    from gui.plotting.log_axis import SparseLogAxis

    axis = SparseLogAxis("left")
    values = [np.log10(v) for v in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0, 3.0)]
    assert axis.logTickStrings(values, 1.0, 0.1) == ["0.5", "", "", "", "", "1", "2", ""]


def test_health_dead_share_of_a_conv_is_its_relus(qtbot, panel, run_dir):
    with qtbot.waitSignal(panel.health.loaded, timeout=30_000):
        panel.health.open_run(str(run_dir))
    assert panel.health.dead_source("features.0") == "features.2"  # conv, batch norm, ReLU
    assert panel.health.dead_source("features.4") == "features.6"


def test_the_window_has_a_dossier_tab_and_menu_action(qtbot, window, run_dir):
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "Dossier" in tabs
    assert any("Dossier" in a.text() for a in window.menus["file"].actions())
    with qtbot.waitSignal(window.dossier.health.loaded, timeout=30_000):
        window.dossier.open_run(str(run_dir))
    window.dossier.shutdown()
