"""New sweep…: the dialog writes the definition, starts the sweep in its own process and lists its trials live
(2 tiny trials); the trials are ordinary runs the Runs tab's index lists under the sweep."""
import json

import pytest

from core.runs.index import RunIndex
from core.runs.layout import SweepLayout

TINY = {"data": {"name": "shapes", "train_count": 32, "val_count": 16, "image_size": 16},
        "model_name": "mlp", "model_options": {"hidden": [8]},
        "train": {"epochs": 2, "batch_size": 16, "device": "cpu", "evaluate_at_end": False}}


@pytest.fixture
def dialog(qtbot, tmp_path, monkeypatch):
    from gui.app import make_application
    from gui.training.sweep_dialog import SweepDialog

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a crowded 2-core machine: one thread per trial
    make_application()
    d = SweepDialog(tmp_path / "runs")
    qtbot.addWidget(d)
    d.show()
    yield d
    if d.running():
        d.stop()
        d.process.wait(timeout=120)
    d.shutdown()


def test_a_sweep_started_from_the_dialog_lists_its_trials_live(dialog, qtbot, tmp_path):
    dialog.set_base(TINY)
    dialog.name.setText("two tiny")
    dialog.set_param("lr", "1e-3 .. 1e-1 log")
    dialog.trials.setValue(2)
    dialog.sampler.setCurrentIndex(dialog.sampler.findData("random"))
    assert dialog.start()
    folder = tmp_path / "runs" / "sweep-two-tiny"
    assert dialog.sweep_dir == folder
    assert json.loads(SweepLayout(folder).spec.read_text())["params"]["lr"] == {"low": 1e-3, "high": 0.1,
                                                                                  "log": True}
    # Live: a trial shows while the sweep is still running.
    qtbot.waitUntil(lambda: dialog.trial_table.rowCount() >= 1, timeout=120_000)
    assert dialog.trial_table.horizontalHeaderItem(4).text() == "lr"
    qtbot.waitUntil(lambda: not dialog.timer.isActive(), timeout=300_000)  # the sweep ended, the last read shown
    assert dialog.process.returncode == 0
    assert [r["status"] for r in dialog.rows] == ["finished", "finished"]
    assert dialog.trial_table.rowCount() == 2 and dialog.trial_table.item(1, 1).text() == "finished"
    assert "Importance" in dialog.importance_label.text() or len(dialog.importances) == 0
    names = sorted(s.name for s in RunIndex(tmp_path / "runs").scan())
    assert names == ["sweep-two-tiny/0000", "sweep-two-tiny/0001"]  # the Runs tab lists them under the sweep


def test_a_value_that_cannot_be_read_is_named_and_nothing_starts(dialog, tmp_path):
    dialog.set_base(TINY)
    dialog.set_param("lr", "1e-3 .. lots")
    assert not dialog.start()
    assert "lr" in dialog.status.text() and dialog.process is None
    assert not (tmp_path / "runs").exists()
