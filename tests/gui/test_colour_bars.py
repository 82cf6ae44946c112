"""Every map says what its colours mean: a colour bar beside each saliency map (and the first-layer filters),
shown only with something to read, and a map that is zero everywhere is said to be, not left blank."""
import numpy as np

from gui.inspector.results import SaliencyResult


def test_a_saliency_map_comes_with_its_colour_bar(qtbot):
    from gui.inspector.saliency_view import SaliencyView

    view = SaliencyView()
    qtbot.addWidget(view)
    view.show()
    view.set_input(np.zeros((32, 32, 3), np.uint8))
    assert [bar.opacity() for bar in view.bars] == [0.0, 0.0]  # nothing to read yet
    heat = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    view.show_result(SaliencyResult(1, "gradcam", 0, None, heatmap=heat, compare_target=1,
                                    compare_heatmap=np.zeros_like(heat)), ["cat", "dog"])
    assert [bar.opacity() for bar in view.bars] == [1.0, 1.0]
    assert "'dog' is zero everywhere" in view.status.text()  # a blank map is explained, not just blank
    view.set_heatmap(None, "Computing…")
    assert view.bars[0].opacity() == 0.0


def test_first_layer_filters_have_a_colour_bar_from_minus_max_to_plus_max(qtbot):
    from gui.inspector.panel_widgets import InspectorWidgets

    widgets = InspectorWidgets()
    qtbot.addWidget(widgets)
    ticks = dict(widgets.filters_bar.axis._tickLevels[0])
    assert ticks == {0.0: "−max", 0.5: "0", 1.0: "+max"} and widgets.filters_bar.opacity() == 0.0
