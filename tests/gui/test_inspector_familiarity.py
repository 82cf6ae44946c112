"""The Inspect tab's familiarity: a checkpoint without a bank says "familiarity unknown" with a button that
builds it; a dropped image unlike the training images then shows the Unfamiliar badge and its five nearest
training images, and clicking one inspects it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gui.inspector import InspectorPanel
from gui.model_hub import ModelHub

CLASSES = ["blue", "green", "red"]
COLOURS = {"blue": (40, 60, 200), "green": (40, 180, 60), "red": (200, 40, 40)}
WAIT = 60_000


@pytest.fixture
def checkpoint_file(tmp_path):
    """A tiny cnn's checkpoint in a run folder, trained-on data: plain colour squares in class folders."""
    import torch

    from core.checkpoints.checkpoint import load_checkpoint, save_checkpoint
    from core.data import DataSpec
    from core.data.transforms import Preprocess
    from tests.core.familiaritykit import save_model_checkpoint, tiny_model

    folder = tmp_path / "colours"
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (folder / name).mkdir(parents=True)
        for i in range(16):
            shade = np.clip(np.array(colour) + rng.integers(-25, 26, 3), 0, 255).astype(np.uint8)
            Image.new("RGB", (32, 32), tuple(int(c) for c in shade)).save(folder / name / f"{name}{i:02d}.png")
    torch.manual_seed(0)
    options = {"channels": 4, "blocks": 2}
    path = save_model_checkpoint(tiny_model("cnn", classes=3, size=32, options=options), CLASSES,
                                 Preprocess(32), tmp_path / "run" / "best.pt", options=options)
    ckpt = load_checkpoint(path)
    ckpt.training_state = {"data_spec": DataSpec(name=str(folder), image_size=32, val_fraction=0.25).to_dict()}
    save_checkpoint(ckpt, path)
    return path


@pytest.fixture
def panel(qtbot):
    p = InspectorPanel(ModelHub())
    qtbot.addWidget(p)
    p.resize(1200, 800)
    yield p
    assert p.shutdown(60_000), "the inspector's worker thread did not finish"


def test_dropping_an_unfamiliar_image_shows_the_badge_and_five_neighbours(qtbot, panel, checkpoint_file, tmp_path):
    from core.checkpoints.checkpoint import load_checkpoint

    view = panel.familiarity_view
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(noise)
    panel.hub.set_checkpoint(load_checkpoint(checkpoint_file), "unit test")
    panel.open_paths([str(noise)])
    qtbot.waitUntil(lambda: panel.detail is not None and not panel._busy, timeout=WAIT)
    assert view.state == "unknown" and "Familiarity unknown" in view.badge.text()
    assert view.compute_button.isVisibleTo(panel) and not view.neighbour_buttons

    view.compute_button.click()  # builds best.familiarity.npz, then inspects the image again
    qtbot.waitUntil(lambda: view.state == "unfamiliar", timeout=WAIT)
    assert checkpoint_file.with_name("best.familiarity.npz").is_file()
    assert view.badge.text().startswith("Unfamiliar: unlike the training images: score ")
    assert "95 % of validation images score above" in view.badge.text()
    assert not view.compute_button.isVisibleTo(panel)
    assert len(view.neighbour_buttons) == 5, panel.detail.familiarity
    labels = [b.text().split("\n")[0] for b in view.neighbour_buttons]
    assert set(labels) <= set(CLASSES)
    assert all(not b.icon().isNull() and b.isEnabled() for b in view.neighbour_buttons)

    first = view.neighbour_buttons[0].toolTip().split("\n")[0]
    view.neighbour_buttons[0].click()  # opens that training image in the inspector
    qtbot.waitUntil(lambda: panel.detail is not None and panel.detail.label == first.rsplit("/", 1)[-1]
                    and not panel._busy, timeout=WAIT)
    qtbot.waitUntil(lambda: view.state in ("familiar", "unfamiliar"), timeout=WAIT)


def test_the_batch_table_has_a_sortable_familiarity_column(qtbot, panel, checkpoint_file, tmp_path):
    from PySide6.QtCore import Qt

    from core.checkpoints.checkpoint import load_checkpoint
    from core.familiarity.jobs import build_bank

    build_bank(checkpoint_file)
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(noise)
    red = tmp_path / "red.png"
    Image.new("RGB", (32, 32), COLOURS["red"]).save(red)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    panel.hub.set_checkpoint(load_checkpoint(checkpoint_file), "unit test")
    with qtbot.waitSignal(panel.rowsDone, timeout=WAIT):
        panel.open_paths([str(noise), str(red), str(bad)])
    table = panel.table
    assert table.familiarity_text(0).endswith("unfamiliar")  # noise
    assert not table.familiarity_text(1).endswith("unfamiliar")  # a red square like the training images
    assert table.familiarity_text(2) == ""  # could not be read
    table.sortItems(4, Qt.SortOrder.DescendingOrder)  # most familiar first: the red square on top
    assert table.item(0, 1).text() == "red.png" and table.visual_row(1) == 0
    assert table.row_texts(0)[0] == "noise.png"  # rows are still named by their place in the drop
    with qtbot.waitSignal(table.rowChosen, timeout=WAIT) as chosen:
        table.selectRow(0)
    assert chosen.args == [1]
    qtbot.waitUntil(lambda: panel.detail is not None and panel.detail.label == "red.png" and not panel._busy,
                    timeout=WAIT)
