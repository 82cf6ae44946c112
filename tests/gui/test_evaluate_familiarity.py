"""The Evaluate page's familiarity: "unknown" and a Compute button for a checkpoint without a feature bank;
the button builds the bank and evaluates again; then the gallery keeps only the unfamiliar (or familiar)
images of a cell and sorts them by familiarity, and the run's per_image.csv has the scores."""
import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.core.evalkit import train_tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("run"), epochs=1, image_size=24, evaluate_at_end=False)


@pytest.fixture
def page(qtbot):
    from gui.app import make_application
    from gui.evaluate import EvaluateTab
    from gui.model_hub import ModelHub

    make_application()
    tab = EvaluateTab(ModelHub())
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    yield tab.evaluate_page
    tab.shutdown()


def _captions(page) -> list[str]:
    return [item["caption"] for item in page.gallery.model_.items]


def test_familiarity_unknown_then_computed_then_filtered_and_sorted(page, qtbot, run):
    bar = page.familiarity_bar
    page.source.setCurrentText("Checkpoint file")
    page.checkpoint_path.setText(str(run / "best.pt"))
    with qtbot.waitSignal(page.evaluated, timeout=120_000):
        page.evaluate_button.click()
    assert page.result.familiarity is None
    assert "Familiarity unknown" in bar.note.text() and bar.compute_button.isVisible()
    assert not bar.show_box.isEnabled()

    with qtbot.waitSignal(page.evaluated, timeout=300_000):  # the bank is built, then the evaluation runs again
        qtbot.mouseClick(bar.compute_button, Qt.MouseButton.LeftButton)
    result = page.result
    assert (run / "best.familiarity.npz").is_file() and result.familiarity is not None
    assert not bar.compute_button.isVisible() and bar.show_box.isEnabled()
    unfamiliar = ~result.familiar
    assert f"<b>{int(unfamiliar.sum())}</b> of {len(result.files)} images unfamiliar" == bar.note.text()
    with open(run / "eval" / "per_image.csv", newline="") as fh:  # the run's evaluation, beside its files
        written = np.array([float(row["familiarity"]) for row in csv.DictReader(fh)])
    assert np.allclose(written, result.familiarity, atol=1e-4)

    # The cell with the most unfamiliar images (about 5 % of the validation images are, by calibration).
    counts = np.zeros((len(result.classes),) * 2, dtype=int)
    np.add.at(counts, (result.labels[unfamiliar], result.predicted[unfamiliar]), 1)
    assert counts.sum() > 0
    cell = tuple(int(i) for i in np.unravel_index(np.argmax(counts), counts.shape))
    page.show_cell(*cell)
    members = result.cell(*cell)
    assert len(page.gallery.model_.items) == len(members)
    bar.show_box.setCurrentText("Unfamiliar only")
    shown = [item["file"] for item in page.gallery.model_.items]
    scores = {f: s for f, s in zip(result.files, result.familiarity)}
    assert len(shown) == counts[cell] and all(scores[f] < result.familiarity_threshold for f in shown)
    assert all(item["unfamiliar"] for item in page.gallery.model_.items) and "(unfamiliar)" in \
        page.gallery_title.text()
    bar.show_box.setCurrentText("All images")
    bar.order_box.setCurrentText("Least familiar first")
    shown = [scores[item["file"]] for item in page.gallery.model_.items]
    assert len(shown) == len(members) and shown == sorted(shown)
    bar.show_box.setCurrentText("Familiar only")
    assert len(page.gallery.model_.items) == len(members) - counts[cell]
