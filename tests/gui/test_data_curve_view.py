"""The data-size curve view reads a finished curve's folder: the points, the fit, the band and the sentence."""
from __future__ import annotations

from pathlib import Path

from core.datacurve.fit import power_law
from core.datacurve.runner import CurvePoint, finish
from gui.labelling.curve_view import DataCurveView


def test_the_view_plots_a_finished_curve_and_says_it(qtbot, tmp_path):
    sizes = [10.0, 25.0, 50.0, 100.0]
    points = [CurvePoint(f, Path(f"fraction-{round(f * 100):03d}"), int(n * 3), n, float(power_law(n, 0.95, 0.8, 0.5)),
                         600, {"a": float(power_law(n, 0.99, 0.5, 0.5)), "b": float(power_law(n, 0.9, 1.2, 0.5))})
              for f, n in zip([0.1, 0.25, 0.5, 1.0], sizes)]
    result = finish(tmp_path, points)
    view = DataCurveView()
    qtbot.addWidget(view)
    view.show_result(str(tmp_path))
    text = view.sentence.text()
    assert text.startswith("Doubling the photos would raise accuracy by about") and "More photos help most for: b" in text
    assert result.fit is not None and len(view.plot.getPlotItem().listDataItems()) == 3  # points, fit, 2x/4x
