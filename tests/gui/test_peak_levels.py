"""The min/max pyramid that draws long step curves (gui/plotting/peak_levels.py)."""
from __future__ import annotations

import numpy as np
import pytest


def test_envelope_keeps_every_bins_min_and_max_and_the_last_point():
    from gui.plotting.peak_levels import envelope

    x = np.arange(10, dtype=np.float64)
    y = np.array([0, 5, 1, 1, -3, 2, 2, 2, 7, 4], dtype=np.float64)
    ex, ey = envelope(x, y, 4)
    # bins [0..3], [4..7] and the partial [8, 9]: (min, max) at each bin's first x, then the last point
    assert ex.tolist() == [0, 0, 4, 4, 8, 8, 9]
    assert ey.tolist() == [0, 5, -3, 2, 4, 7, 4]
    assert envelope(x, y, 1)[1] is y


@pytest.mark.parametrize("visible,width,expected", [(100, 600, 1), (1000, 600, 1), (1_500, 600, 1), (100_000, 500, 256),
                                                    (1_000_000, 500, 2048)])
def test_bins_leave_about_one_bin_per_pixel_column(visible, width, expected):
    from gui.plotting.peak_levels import bins_for

    bins = bins_for(visible, width)
    assert bins == expected
    if bins > 1:
        assert 0.75 * width <= visible / bins < 1.5 * width


def test_a_zoom_draws_finer_levels_and_a_pan_at_one_zoom_keeps_the_data(qtbot):
    import pyqtgraph as pg

    from gui.app import make_application
    from gui.plotting.peak_levels import PeakLevels

    make_application()
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(700, 400)
    widget.show()
    qtbot.waitExposed(widget)
    curve = widget.plot()
    levels = PeakLevels(curve)
    x = np.arange(200_000, dtype=np.float64)
    y = np.sin(x / 500)
    y[123_457] = 9.0
    levels.set_data(x, y)
    widget.setXRange(0, x.size, padding=0)
    coarse = levels.shown_bins()
    assert coarse > 64 and len(curve.getData()[0]) < 4 * widget.getViewBox().width()
    assert np.max(curve.getData()[1]) == 9.0  # the one spike survives the envelope

    drawn = curve.getData()[0]
    widget.setXRange(1_000, x.size + 1_000, padding=0)  # a pan: the same level, the same arrays, no rework
    assert curve.getData()[0] is drawn

    widget.setXRange(123_000, 123_600, padding=0)  # zoomed in to 600 points: every point, clipped to the view
    assert levels.shown_bins() == 1 and curve.opts["clipToView"]
    shown_x, shown_y = curve.getData()
    assert shown_x.size < 2_000 and 9.0 in shown_y

    levels.detach()
    widget.setXRange(0, x.size, padding=0)  # detached: the view no longer drives the curve
    assert levels.shown_bins() == 1
