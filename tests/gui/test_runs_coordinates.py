"""The Runs tab's parallel coordinates: the selected runs over the settings that vary and their metrics;
brushing a range on an axis selects the runs inside it; the scatter shows a setting against a metric."""
import json

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from tests.core.test_run_index import make_run

LRS = {"r1": 1e-4, "r2": 1e-3, "r3": 1e-2, "r4": 1e-1}


@pytest.fixture
def tab(qtbot, tmp_path):
    from gui.app import make_application
    from gui.runs.tab import RunsTab

    root = tmp_path / "runs"
    for name, lr in LRS.items():
        run = make_run(root / name, done=int(name[1]) % 3 + 1)
        config = json.loads((run / "config.json").read_text())
        config["train"]["lr"] = lr
        (run / "config.json").write_text(json.dumps(config))
    make_application()
    t = RunsTab(root)
    qtbot.addWidget(t)
    t.resize(1000, 800)
    t.show()
    t.start()
    qtbot.waitUntil(lambda: t.model.rowCount() == 4, timeout=10_000)
    paths = [str(root / name) for name in LRS]
    t.select_paths(paths)
    qtbot.waitUntil(lambda: len(t.selected_paths()) == 4, timeout=5_000)
    t.details.setCurrentWidget(t.coordinates)
    yield t, paths
    t.shutdown()


def names(paths):
    return sorted(p.rsplit("/", 1)[-1] for p in paths)


def _drag(widget, start: QPointF, end: QPointF) -> None:
    """A real press, move and release with the button held (QTest's move carries no buttons)."""
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for kind, at, buttons in ((QEvent.Type.MouseButtonPress, start, left), (QEvent.Type.MouseMove, (start + end) / 2,
                              left), (QEvent.Type.MouseMove, end, left), (QEvent.Type.MouseButtonRelease, end,
                              Qt.MouseButton.NoButton)):
        QApplication.sendEvent(widget, QMouseEvent(kind, at, widget.mapToGlobal(at), left, buttons, none))


def test_axes_are_the_varying_settings_and_metrics(tab):
    t, paths = tab
    axes = [a.name for a in t.coordinates.axes]
    assert axes[0] == "train.lr" and "best_val_acc" in axes
    assert t.coordinates.axes[0].kind == "log"
    assert t.scatter.x_choice.currentText() == "train.lr" and t.scatter.points.xData.size == 4


def test_brushing_an_axis_selects_the_runs_in_its_range(tab, qtbot):
    t, paths = tab
    t.coordinates.set_brush("train.lr", 0.5, 1.0)  # the upper half of a log axis 1e-4..1e-1: 1e-2 and 1e-1
    qtbot.waitUntil(lambda: names(t.selected_paths()) == ["r3", "r4"], timeout=5_000)
    assert len(t.coordinates.rows) == 4  # the plot still shows every run it was given
    t.coordinates.clear_brush()
    qtbot.waitUntil(lambda: len(t.selected_paths()) == 4, timeout=5_000)


def test_a_mouse_drag_along_an_axis_brushes_it(tab, qtbot):
    t, paths = tab
    box, view = t.coordinates.box, t.coordinates.plot
    top = view.mapFromScene(box.mapViewToScene(QPointF(0.0, 1.05)))  # the lr axis, above its highest run
    middle = view.mapFromScene(box.mapViewToScene(QPointF(0.0, 0.2)))  # below 1e-3's third of the axis
    _drag(view.viewport(), QPointF(top), QPointF(middle))
    qtbot.waitUntil(lambda: names(t.selected_paths()) == ["r2", "r3", "r4"], timeout=5_000)
    low, high = t.coordinates.ranges["train.lr"]
    assert low == pytest.approx(0.2, abs=0.05) and high == 1.0


def test_a_sweeps_trials_are_listed_under_it_with_its_importances(qtbot, tmp_path):
    from gui.app import make_application
    from gui.runs.tab import RunsTab
    from core.runs.layout import SweepLayout

    sweep = SweepLayout(tmp_path / "runs" / "sweep-lr")
    for number, lr in enumerate((1e-3, 1e-2, 1e-1)):
        run = make_run(sweep.trial(number))
        config = json.loads((run / "config.json").read_text())
        config["train"]["lr"] = lr
        (run / "config.json").write_text(json.dumps(config))
    sweep.sweep_file.write_text(json.dumps({"version": 1, "study": "lr"}))
    sweep.importances.write_text(json.dumps({"importances": {"lr": 0.75, "batch_size": 0.25}, "note": ""}))
    make_application()
    t = RunsTab(tmp_path / "runs")
    qtbot.addWidget(t)
    t.show()
    t.start()
    qtbot.waitUntil(lambda: t.model.rowCount() == 3, timeout=10_000)
    assert sorted(t.model.summary(i).name for i in range(3)) == ["sweep-lr/0000", "sweep-lr/0001", "sweep-lr/0002"]
    t.select_paths([t.model.summary(i).path for i in range(3)])
    qtbot.waitUntil(lambda: t.coordinates.note.text() == "sweep-lr: importance lr 75%, batch_size 25%",
                    timeout=10_000)
    t.shutdown()
