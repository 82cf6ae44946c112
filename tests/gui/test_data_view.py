"""The Data tab on a real (tiny) folder of photos with a corrupt file: health report, browser, preview."""
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt

from gui.data import DataView
from gui.concurrent import BackgroundTask

PER_CLASS = 5


@pytest.fixture
def photo_folder(shared_data, tmp_path) -> Path:
    """ants/ and bees/ with 5 real photos each, plus a corrupt JPEG, an empty file and a text file."""
    if not (shared_data / "hymenoptera").is_dir():
        pytest.skip(f"the hymenoptera photos are not in {shared_data}")
    root = tmp_path / "insects"
    for cls in ("ants", "bees"):
        src = sorted((shared_data / "hymenoptera" / "train" / cls).glob("*.jpg"))[:PER_CLASS]
        (root / cls).mkdir(parents=True)
        for p in src:
            shutil.copy(p, root / cls / p.name)
    good = sorted((root / "ants").glob("*.jpg"))[0].read_bytes()
    (root / "ants" / "broken.jpg").write_bytes(good[: len(good) // 3])  # truncated JPEG
    (root / "bees" / "empty.png").write_bytes(b"")
    (root / "bees" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(autouse=True)
def thumbnail_cache(tmp_path, monkeypatch):
    """Thumbnails are cached on disk: here, never in the user's cache folder."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LAYERSCOPE_CACHE_DIR", str(folder))
    return folder / "thumbnails"


@pytest.fixture
def view(qtbot):
    w = DataView()
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    yield w
    w.shutdown()


def test_health_report_lists_classes_and_problems(qtbot, view, photo_folder):
    inputs = []
    view.input_changed.connect(lambda *a: inputs.append(a))
    with qtbot.waitSignal(view.health.report_ready, timeout=60_000) as ready:
        view.open_dataset(photo_folder)
    report = ready.args[0]
    assert report.classes == ["ants", "bees"]
    table = view.health.counts
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == ["ants", "bees", "All"]
    total_col = table.columnCount() - 1
    assert table.item(0, total_col).text() == str(PER_CLASS)  # the broken file is not counted
    assert table.item(2, total_col).text() == str(2 * PER_CLASS)
    lines = "\n".join(view.health.problem_texts())
    assert "broken.jpg" in lines and "corrupt" in lines
    assert "empty.png" in lines and "empty" in lines
    assert "notes.txt" in lines  # a non-image file is listed as ignored
    assert "Sizes" in view.health.summary.text() and "RGB" in view.health.summary.text()
    qtbot.waitUntil(lambda: bool(inputs), timeout=30_000)
    assert inputs[-1] == (2, 3, 64)
    # A click on a class row browses that class.
    view.side_tabs.setCurrentWidget(view.augmentation_panel)
    rect = table.visualItemRect(table.item(1, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.side_tabs.currentWidget() is view.browser
    assert view.browser.class_filter.currentData() == "bees"
    assert {item.label for item in view.browser.model.items()} == {"bees"}


def test_browser_shows_classes_and_loads_thumbnails_lazily(qtbot, view, photo_folder):
    with qtbot.waitSignal(view.browser.loaded, timeout=30_000):
        view.open_dataset(photo_folder)
    browser = view.browser
    assert browser.classes() == ["ants", "bees"]
    combo = [browser.class_filter.itemText(i) for i in range(browser.class_filter.count())]
    # broken.jpg and empty.png have image names, so the browser lists them (and shows them as broken)
    assert combo == [f"All classes ({2 * PER_CLASS + 2})", f"ants ({PER_CLASS + 1})", f"bees ({PER_CLASS + 1})"]
    browser.set_class("bees")
    model = browser.model
    assert model.rowCount() == PER_CLASS + 1
    assert {model.data(model.index(r), Qt.UserRole + 2) for r in range(model.rowCount())} == {"bees"}
    keys = [item.key for item in model.items()]
    for r in range(model.rowCount()):  # what the view does for the rows it paints
        model.data(model.index(r), Qt.DecorationRole)
    qtbot.waitUntil(lambda: all(model.cached(k) or model.failure(k) for k in keys), timeout=30_000)
    empty = next(k for k in keys if k.endswith("empty.png"))
    assert model.failure(empty) and "empty" in model.failure(empty)
    good = next(k for k in keys if k.endswith(".jpg"))
    pix = model.data(model.index(keys.index(good)), Qt.DecorationRole)
    assert max(pix.width(), pix.height()) == model.thumb_size
    assert "cannot be read" in model.data(model.index(keys.index(empty)), Qt.ToolTipRole)


def test_augmentation_preview_follows_the_options(qtbot, view, photo_folder):
    view.side_tabs.setCurrentWidget(view.augmentation_panel)
    panel = view.augmentation_panel
    with qtbot.waitSignal(panel.preview_ready, timeout=60_000):
        view.open_dataset(photo_folder)
    assert panel.preview_cells() > 0
    changed = []
    view.augmentation_changed.connect(lambda: changed.append(1))
    with qtbot.waitSignal(panel.preview_ready, timeout=60_000):
        panel.flip.setChecked(True)
        panel.rotation.setValue(15)  # two quick edits: one debounced preview
    assert len(changed) == 2
    aug = view.augmentation()
    assert aug.horizontal_flip and aug.rotation_degrees == 15 and not aug.random_resized_crop
    assert panel.preview_cells() > 0


def test_cancelling_a_scan_shows_no_report(qtbot, view, photo_folder):
    with qtbot.waitSignal(view.health.scan_cancelled, timeout=5_000):
        view.health.scan(photo_folder)
        view.health.cancel()
    view.health.shutdown()  # waits for the worker thread
    QCoreApplication.processEvents()  # deliver anything the worker queued: it must be dropped
    assert view.health.report() is None
    assert "cancelled" in view.health.status.text()


def test_a_folder_that_is_not_a_dataset_gets_a_message(qtbot, view, tmp_path):
    (tmp_path / "only_one" / "cats").mkdir(parents=True)
    with qtbot.waitSignal(view.health.scan_failed, timeout=30_000) as failed:
        view.open_dataset(tmp_path / "only_one")
    assert "class" in failed.args[0]
    assert "Cannot use" in view.health.status.text()


def test_background_task_delivers_only_the_latest_result(qtbot):
    task = BackgroundTask()
    results = []
    task.finished.connect(results.append)
    try:
        def slow(ctx, value):
            while not ctx.cancelled() and value == "first":
                ctx.check_cancelled()
            return value

        task.submit(lambda ctx: slow(ctx, "first"))
        with qtbot.waitSignal(task.finished, timeout=60_000):  # a job's first run imports the engine (torch)
            task.submit(lambda ctx: slow(ctx, "second"))
        assert results == ["second"]
    finally:
        assert task.shutdown()


def test_shapes_need_no_scan_and_are_browsable(qtbot, view):
    inputs = []
    view.input_changed.connect(lambda *a: inputs.append(a))
    with qtbot.waitSignal(view.browser.loaded, timeout=30_000):
        view.open_dataset("shapes")
    assert inputs == [(5, 3, 40)]  # shapes are drawn at 40 px unless the user asks for another size
    assert view.browser.classes() == ["circle", "square", "triangle", "star", "cross"]
    assert not view.health.report_area.isVisibleTo(view)
    outcome = []
    view.browser.loaded.connect(lambda: outcome.append("loaded"))
    view.browser.failed.connect(lambda message: outcome.append("failed"))
    view.open_dataset("mnist")  # listed when downloaded, else a "not downloaded yet" message
    qtbot.waitUntil(lambda: bool(outcome), timeout=60_000)
    assert inputs[-1] == (10, 1, 28)
    assert [item.key.split(":")[0] for item in view.browser.model.items()] in ([], ["mnist"] * 2000)


def test_a_standard_set_that_is_not_downloaded_is_never_downloaded_by_the_views(qtbot, view, monkeypatch, tmp_path):
    monkeypatch.setenv("LAYERSCOPE_DATA_DIR", str(tmp_path / "empty"))
    view.side_tabs.setCurrentWidget(view.augmentation_panel)
    with qtbot.waitSignal(view.browser.failed, timeout=60_000) as failed:
        view.open_dataset("cifar10")
    assert "not downloaded" in failed.args[0]
    assert "not downloaded" in view.browser.count_label.text()
    qtbot.waitUntil(lambda: "not downloaded" in view.augmentation_panel.status.text(), timeout=60_000)
    assert not (tmp_path / "empty").exists()


def write_tiny_mnist(folder: Path, n: int = 30) -> None:
    """MNIST's four IDX files with n random digits each (the real files are 50 MB)."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        arrays = {"images-idx3": rng.integers(0, 255, (n, 28, 28), dtype=np.uint8),
                  "labels-idx1": rng.integers(0, 10, n).astype(np.uint8)}
        for kind, arr in arrays.items():
            header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
            (folder / f"{prefix}-{kind}-ubyte").write_bytes(header + arr.tobytes())


def test_a_downloaded_standard_set_is_browsed_and_previewed(qtbot, view, monkeypatch, tmp_path):
    monkeypatch.setenv("LAYERSCOPE_DATA_DIR", str(tmp_path / "datasets"))
    write_tiny_mnist(tmp_path / "datasets" / "MNIST" / "raw")
    view.side_tabs.setCurrentWidget(view.augmentation_panel)
    with qtbot.waitSignal(view.augmentation_panel.preview_ready, timeout=60_000):
        view.open_dataset("mnist")
    assert view.augmentation_panel.preview_cells() == 18
    view.side_tabs.setCurrentWidget(view.browser)
    qtbot.waitUntil(lambda: view.browser.model.rowCount() == 30, timeout=30_000)
    assert view.browser.classes() == [str(d) for d in range(10)]
    model = view.browser.model
    model.data(model.index(0), Qt.DecorationRole)  # grayscale 28x28 arrays become thumbnails too
    qtbot.waitUntil(lambda: model.cached("mnist:0"), timeout=30_000)


def test_thumbnails_are_cached_on_disk_and_reused(qtbot, photo_folder, thumbnail_cache, monkeypatch):
    from gui.data import thumbnails
    from gui.data.browser import folder_items

    _classes, items = folder_items(photo_folder)
    items = [it for it in items if it.key.endswith(".jpg") and "broken" not in it.key][:3]

    def load_all(model):
        model.set_items(items)
        for r in range(model.rowCount()):
            model.data(model.index(r), Qt.DecorationRole)
        qtbot.waitUntil(lambda: all(model.cached(it.key) or model.failure(it.key) for it in items), timeout=30_000)

    first = thumbnails.ThumbnailModel(disk_cache=thumbnails.DiskCache(thumbnails.default_cache_dir()))
    try:
        load_all(first)
    finally:
        assert first.shutdown()
    assert len(list(thumbnail_cache.rglob("*.png"))) == 3

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("decoded although the thumbnail is on disk")

    monkeypatch.setattr(thumbnails, "make_thumbnail", no_decoding)
    second = thumbnails.ThumbnailModel(disk_cache=thumbnails.DiskCache(thumbnails.default_cache_dir()))
    try:
        load_all(second)
        assert all(second.cached(it.key) for it in items)
    finally:
        assert second.shutdown()
    # A changed file is decoded again (its size / time is part of the key): here it fails, as patched.
    items[0].source.write_bytes(items[0].source.read_bytes() + b"\0")
    third = thumbnails.ThumbnailModel(disk_cache=thumbnails.DiskCache(thumbnails.default_cache_dir()))
    try:
        load_all(third)
        assert third.failure(items[0].key) and third.cached(items[1].key)
    finally:
        assert third.shutdown()


def test_a_long_problem_list_is_capped_and_says_how_many_more(qtbot, view, tmp_path):
    from PIL import Image

    from gui.data.health_view import MAX_ROWS

    root = tmp_path / "many_bad"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(root / cls / f"ok{i}.png")
    for i in range(MAX_ROWS + 5):
        (root / "a" / f"bad{i:04d}.jpg").write_bytes(b"")
    with qtbot.waitSignal(view.health.report_ready, timeout=60_000) as ready:
        view.health.scan(root)
    assert len(ready.args[0].problems) == MAX_ROWS + 5
    section = view.health.problems.topLevelItem(0)
    assert section.text(0) == f"Files that cannot be used ({MAX_ROWS + 5})"
    assert section.childCount() == MAX_ROWS + 1
    assert section.child(MAX_ROWS).text(0) == "… and 5 more"


def test_the_health_report_shows_each_class_and_its_confound(qtbot, view, tmp_path):
    """Bees all 96x160 PNGs, ants JPEGs of many sizes, a loose/ folder beside train/ and val/: the per-class
    breakdown marks the bees' format and size, the problems list names the confound and the unused folder."""
    from gui.data.health_view import CONFOUND_BRUSH, PROFILE_ROWS
    from tests.support.photos import photo

    root = tmp_path / "pets"
    for split, count in (("train", 12), ("val", 4)):
        for c, name in enumerate(("ants", "bees")):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                image = photo(100 * c + i + (50 if split == "val" else 0), (120 + 7 * i, 90 + 3 * i))
                if name == "bees":
                    image.resize((96, 160)).save(root / split / name / f"{i}.png")
                else:
                    image.save(root / split / name / f"{i}.jpg", quality=90)
    (root / "loose").mkdir()
    photo(7).save(root / "loose" / "stray.jpg")
    with qtbot.waitSignal(view.health.report_ready, timeout=60_000):
        view.health.scan(root)
    table = view.health.profile
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == ["ants", "bees"]
    rows = [label for label, _ in PROFILE_ROWS]
    assert table.item(rows.index("format"), 1).text() == "PNG"
    assert table.item(rows.index("size (median)"), 1).text() == "96×160"
    marked = {(rows[r], c) for r in range(table.rowCount()) for c in range(table.columnCount())
              if table.item(r, c).background() == CONFOUND_BRUSH}
    assert {("format", 1), ("size (median)", 1), ("aspect ratio", 1)} <= marked
    assert not any(c == 0 for _, c in marked)  # named once, after the odd class
    lines = "\n".join(view.health.problem_texts())
    assert "Confounds" in lines and "bees: file format" in lines and "re-encode" in lines
    assert "loose" in lines and "not a split folder" in lines
    import html

    assert "can be told from 'ants'" in html.unescape(view.health.warnings.text())
