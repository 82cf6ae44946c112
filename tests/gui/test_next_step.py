"""The next step is where the user looks: a finished run's evaluation shows in Evaluate, a checkpoint opened
from a run folder shows that run (curves, settings, evaluation), the Inspect tab keeps a history of drops, and
a dropped folder of plain images is classified."""
from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.core.evalkit import train_tiny_run, write_shapes_folder

WAIT = 60_000


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished run that evaluated itself at its end (RUN/eval)."""
    return train_tiny_run(tmp_path_factory.mktemp("finished") / "run", epochs=2, image_size=32)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of plain images, no class sub-folders."""
    folder = tmp_path_factory.mktemp("plain") / "photos"
    classes = write_shapes_folder(folder.parent / "classes", per_class=2, size=32)
    folder.mkdir()
    for image in sorted(classes.glob("*/*.png"))[:4]:
        shutil.copy(image, folder / image.name)
    return folder


def drop(window, paths) -> None:
    """A real QDropEvent carrying file URLs, as a file manager sends it."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_opening_a_runs_checkpoint_shows_its_curves_settings_and_evaluation(qtbot, window, run):
    window.tabs.setCurrentWidget(window.inspector)
    page = window.evaluate_tab.evaluate_page
    assert page.result is None
    window.open_checkpoint(str(run / "best.pt"))  # as File > Open and --checkpoint do
    qtbot.waitUntil(lambda: len(window.plots.epoch_val_acc) == 2, timeout=WAIT)  # that run's curves
    assert len(window.plots.step_loss) > 0 and window.plots.best_epoch is not None
    assert window.panel.followed_run == run.name  # its settings, read-only, as following shows them
    qtbot.waitUntil(lambda: page.result is not None, timeout=WAIT)  # its evaluation, not "No evaluation yet"
    assert page.shown_folder == str(run / "eval") and not page.heatmap.hint.shown
    assert window.tabs.currentWidget() is window.inspector  # the tab in front stays
    window.train_tab.stop_following()


def test_inspect_keeps_a_history_of_drops_with_back_and_forward(qtbot, window, run, photos):
    from core.checkpoints.checkpoint import load_checkpoint

    window.hub.set_checkpoint(load_checkpoint(run / "best.pt"), "test")
    inspector = window.inspector
    images = sorted(photos.iterdir())
    assert not inspector.back_action.isEnabled()
    assert inspector.on_first_screen() and "Drop images here to classify them" in inspector.first_screen.text()
    with qtbot.waitSignal(inspector.rowsDone, timeout=WAIT):
        drop(window, images[:3])  # a batch of three
    assert inspector.table.rowCount() == 3 and not inspector.on_first_screen()
    with qtbot.waitSignal(inspector.rowsDone, timeout=WAIT):
        drop(window, images[3:])  # then one image: it does not lose the batch for good
    assert inspector.table_box.isHidden() and inspector.back_action.isEnabled()
    with qtbot.waitSignal(inspector.rowsDone, timeout=WAIT):
        inspector.back_action.trigger()  # Alt+Left
    assert inspector.table.rowCount() == 3 and inspector.table.row_texts(0)[0] == images[0].name
    assert inspector.forward_action.isEnabled() and not inspector.back_action.isEnabled()
    assert inspector.back_action.shortcut().toString() == "Alt+Left"
    inspector.forward_action.trigger()  # Alt+Right
    qtbot.waitUntil(lambda: inspector.detail_label() == images[3].name, timeout=WAIT)
    assert not inspector.forward_action.isEnabled() and inspector.table_box.isHidden()


def test_a_dropped_folder_of_plain_images_is_classified(qtbot, window, run, photos):
    from core.checkpoints.checkpoint import load_checkpoint

    window.hub.set_checkpoint(load_checkpoint(run / "best.pt"), "test")
    with qtbot.waitSignal(window.inspector.rowsDone, timeout=WAIT):
        drop(window, [photos])
    assert window.tabs.currentWidget() is window.inspector
    table = window.inspector.table
    names = sorted(p.name for p in photos.iterdir())
    assert [table.row_texts(r)[0] for r in range(table.rowCount())] == names
    assert all(r.error is None and r.top for r in table.results())  # each one classified


def test_a_finished_runs_evaluation_shows_when_it_is_followed(qtbot, window, run):
    page = window.evaluate_tab.evaluate_page
    window.follow_run(str(run))
    qtbot.waitUntil(lambda: page.result is not None, timeout=WAIT)
    assert page.shown_folder == str(run / "eval") and "No evaluation" not in page.summary.text()
    window.train_tab.stop_following()
