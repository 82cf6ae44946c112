"""The Label tab driven by the keyboard: label, skip, new class, undo, then fine-tune and re-rank."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from core.labelling import labels_log
from gui.labelling.queue_tab import LabellingTab
from tests.core.labellingkit import train_checkpoint, write_pool, write_shapes_dataset


@pytest.fixture
def folders(tmp_path):
    dataset = write_shapes_dataset(tmp_path / "ds", count=60)
    return dataset, write_pool(tmp_path / "pool", count=12), train_checkpoint(dataset, tmp_path / "run")


def _last_action(dataset: Path) -> str:
    return labels_log.read_log(dataset)[-1]["action"]


def test_the_queue_is_driven_by_the_keyboard(qtbot, tmp_path, folders):
    dataset, pool, checkpoint = folders
    tab = LabellingTab()
    qtbot.addWidget(tab)
    tab.runs_root = tmp_path / "runs"
    tab.dataset_edit.setText(str(dataset))
    tab.pool_edit.setText(str(pool))
    tab.set_checkpoint(str(checkpoint))
    tab.resize(900, 600)
    tab.show()
    with qtbot.waitSignal(tab.queueShown, timeout=120_000):
        tab.rank()
    assert len(tab.items) == 12 and tab.classes == ["circle", "square", "triangle"]
    assert [r[0] for r in tab.rounds] == [0]  # the starting model's run gives the plot's first point

    first = tab.current.path
    qtbot.keyClicks(tab, "1")  # label as the first class
    assert (dataset / "circle" / first.name).read_bytes() == first.read_bytes()
    assert tab.position == 1

    second = tab.current.path
    qtbot.keyClicks(tab, "s")  # skip
    assert _last_action(dataset) == "skip" and tab.position == 2

    third = tab.current.path
    tab.ask_class_name = lambda: "star"
    qtbot.keyClicks(tab, "n")  # a new class
    assert (dataset / "star" / third.name).is_file() and "star" in tab.classes

    qtbot.keyClick(tab, Qt.Key.Key_Backspace)  # undo: the copy and the new class folder go
    assert not (dataset / "star").exists() and "star" not in tab.classes
    assert tab.current.path == third

    qtbot.keyClicks(tab, "t")  # a unique first letter: triangle
    assert (dataset / "triangle" / third.name).is_file()
    assert second.exists() and not (dataset / "circle" / second.name).exists()

    with qtbot.waitSignal(tab.finetuned, timeout=300_000):
        tab.finetune_button.click()
    assert Path(tab.checkpoint).parent.parent == tmp_path / "runs"
    assert json.loads((Path(tab.checkpoint).parent / "config.json").read_text())["finetuned_from"]
    assert [r[0] for r in tab.rounds] == [0, 2]  # the first model's accuracy, then after two labels
    qtbot.waitUntil(lambda: not tab.ranker.busy and tab.position == 0 and len(tab.items) == 10, timeout=120_000)
    ranked = {str(i.path) for i in tab.items}
    assert str(first) not in ranked and str(third) not in ranked and str(second) in ranked  # re-ranked
    tab.shutdown()


def test_a_folder_is_taken_as_the_pool_or_the_dataset(qtbot, tmp_path):
    dataset = write_shapes_dataset(tmp_path / "ds", count=12)
    pool = write_pool(tmp_path / "pool", count=3)
    tab = LabellingTab()
    qtbot.addWidget(tab)
    asked = []
    tab.ask_is_pool = lambda folder: asked.append(folder) or True
    tab.set_folder(str(pool))
    tab.set_folder(str(dataset))
    assert (tab.pool_edit.text(), tab.dataset_edit.text()) == (str(pool), str(dataset)) and not asked
    write_pool(dataset, count=1)  # loose photos beside class folders: the tab asks
    tab.set_folder(str(dataset))
    assert asked == [str(dataset)] and tab.pool_edit.text() == str(dataset)
