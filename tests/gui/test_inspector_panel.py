"""The Inspect panel on its own: predictions, layers, bad files, no model, stale results, CSV, saliency,
the pinned probe, URLs and the clipboard. Models are tiny untrained CNNs / MLPs made in the test."""
from __future__ import annotations

import csv
import functools
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QImage

from core.checkpoints.checkpoint import checkpoint_from_model
from core.io.images import ImageLoadError
from core.data.transforms import Preprocess
from core.models import ModelSpec, build_model
from gui.inspector import InspectorPanel
from gui.inspector.sources import fetch_url
from gui.model_hub import ModelHub

CLASSES = ["circle", "square", "star"]
WAIT = 30_000


def tiny_checkpoint(name: str = "cnn", seed: int = 0, **options):
    import torch

    torch.manual_seed(seed)
    options = options or ({"blocks": 2, "channels": 8} if name == "cnn" else {"hidden": [16]})
    spec = ModelSpec(name, len(CLASSES), 3, 32, options)
    return checkpoint_from_model(build_model(spec), spec, CLASSES, Preprocess(32))


def huge_png(path: Path, width: int = 20_000, height: int = 20_000) -> Path:
    """A small file whose PNG header claims a huge image (a decompression bomb)."""
    import struct
    import zlib

    write_png(path, size=(1, 1))
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then length + "IHDR"
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])))
    path.write_bytes(bytes(data))
    return path


def write_png(path: Path, colour=(200, 40, 40), size=(48, 40)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def hub():
    return ModelHub()


@pytest.fixture
def panel(qtbot, hub):
    p = InspectorPanel(hub)
    qtbot.addWidget(p)
    p.resize(1100, 750)
    yield p
    assert p.shutdown(30_000), "the inspector's worker thread did not finish"


def wait_detail(qtbot, panel, label: str):
    qtbot.waitUntil(lambda: panel.detail is not None and panel.detail.label == label and not panel._busy,
                    timeout=WAIT)
    return panel.detail


def test_one_image_shows_prediction_layers_and_filters(qtbot, hub, panel, tmp_path):
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    image = write_png(tmp_path / "red.png")
    panel.open_paths([str(image)])
    detail = wait_detail(qtbot, panel, "red.png")

    entries = panel.topk.entries()
    assert [label for label, _ in entries] == [label for label, _ in detail.inspection.prediction]
    assert sorted(label for label, _ in entries) == sorted(CLASSES)
    assert sum(p for _, p in entries) == pytest.approx(1.0, abs=1e-4)
    assert panel.table_box.isHidden()  # one image: no table
    # The layer list names every leaf layer with its output shape; the first conv is selected and drawn.
    names = [panel.layers.table.item(r, 0).text() for r in range(panel.layers.table.rowCount())]
    assert names[0] == "features.0" and "classifier.2" in names
    assert panel.layers.table.item(0, 2).text() == "8 × 32 × 32"
    mosaic = panel.layers.mosaic.base.image
    assert mosaic is not None and mosaic.shape == detail.inspection.layers[0].mosaic.image.shape
    assert "dead channels" in panel.layers.stats.text()
    # The model's view (32 x 32, red) and the filters (8 RGB 3x3 filters, drawn 4x larger) are shown.
    view = panel.input_pane.base.image
    assert view.shape == (32, 32, 3) and view[..., 0].mean() > 150 and view[..., 1].mean() < 80
    assert panel.filters.base.image is not None and panel.filters.base.image.ndim == 3


def test_linear_layer_is_a_bar_chart_and_scaling_toggle_reinspects(qtbot, hub, panel, tmp_path):
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    panel.open_paths([str(write_png(tmp_path / "a.png", (30, 160, 220)))])
    detail = wait_detail(qtbot, panel, "a.png")

    names = [v.name for v in detail.inspection.layers]
    panel.layers.select_layer(names.index("classifier.2"))
    assert panel.layers.stack.currentWidget() is panel.layers.bars
    heights = panel.layers._bar_item.opts["height"]
    np.testing.assert_allclose(heights, detail.inspection.layer("classifier.2").activation, rtol=1e-5)
    ticks = panel.layers.bars.getAxis("bottom")._tickLevels  # the output bars are named after the classes
    assert [label for _, label in ticks[0]] == CLASSES
    panel.layers.bars.setYRange(0, 0.004, padding=0)  # small activations are written as they are
    axis = panel.layers.bars.getAxis("left")
    assert axis.autoSIPrefixScale == 1.0 and "x0" not in axis.labelString()

    panel.layers.select_layer(names.index("pool"))  # [16, 1, 1] after global pooling: bars too
    assert panel.layers.stack.currentWidget() is panel.layers.bars
    np.testing.assert_allclose(panel.layers._bar_item.opts["height"],
                               detail.inspection.layer("pool").activation.reshape(-1), rtol=1e-5)
    assert detail.inspection.layer("features.0").activation is None  # feature maps live in the mosaic only

    panel.layers.select_layer(names.index("features.0"))
    per_channel = panel.layers.mosaic.base.image.copy()
    first_gen = panel.detail.generation
    panel.layers.scaling.setCurrentIndex(1)  # per layer
    qtbot.waitUntil(lambda: panel.detail.generation > first_gen and not panel._busy, timeout=WAIT)
    assert panel.layers.current_layer_name() == "features.0"  # the layer stays selected
    per_layer = panel.layers.mosaic.base.image
    # Per channel every tile spans 0..1; per layer only the strongest channel reaches 1.
    mosaic = panel.detail.inspection.layer("features.0").mosaic
    tile_max = [float(mosaic.tile(c).max()) for c in range(mosaic.channels)]
    assert min(tile_max) < 0.999 and max(tile_max) == pytest.approx(1.0)
    assert not np.allclose(per_channel, per_layer)


def test_clicking_a_channel_shows_it_over_the_input(qtbot, hub, panel, tmp_path):
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    panel.open_paths([str(write_png(tmp_path / "a.png"))])
    detail = wait_detail(qtbot, panel, "a.png")
    mosaic = detail.inspection.layers[0].mosaic
    x, y, w, h = mosaic.tile_rect(5)
    panel.layers.mosaic.base.clicked.emit(x + w / 2, y + h / 2)  # what a mouse click on that tile sends
    assert panel.layers.selected_channel == 5
    assert "channel 5 of 8" in panel.layers.channel_title.text()
    overlay = panel.layers.channel_overlay.image
    assert overlay.shape == (32, 32)  # the 32x32 feature map at the input's size
    np.testing.assert_allclose(overlay, mosaic.tile(5))
    panel.layers.mosaic.base.clicked.emit(-5.0, -5.0)  # outside the mosaic: nothing changes
    assert panel.layers.selected_channel == 5


def test_many_files_with_bad_ones_fill_the_table_and_the_rest_are_classified(qtbot, hub, panel, tmp_path):
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    good1 = write_png(tmp_path / "good1.png", (250, 0, 0))
    good2 = write_png(tmp_path / "good2.jpg", (0, 0, 250))
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    truncated = tmp_path / "cut.jpg"
    Image.new("RGB", (300, 300), (10, 200, 10)).save(tmp_path / "whole.jpg", quality=95)
    truncated.write_bytes((tmp_path / "whole.jpg").read_bytes()[:400])
    folder = tmp_path / "a_folder"
    folder.mkdir()
    huge = huge_png(tmp_path / "huge.png", 12_500, 12_500)
    items = [good1, text, empty, truncated, folder, tmp_path / "missing.png", huge, good2]
    messages = []
    panel.message.connect(lambda level, t: messages.append((level, t)))
    with qtbot.waitSignal(panel.rowsDone, timeout=WAIT):
        panel.open_paths([str(p) for p in items])

    assert panel.table.rowCount() == len(items) and not panel.table_box.isHidden()
    rows = {r.label: r for r in panel.table.results()}
    assert rows["good1.png"].error is None and rows["good2.jpg"].error is None
    assert rows["good1.png"].thumbnail.shape[2] == 3
    assert "not an image" in rows["notes.jpg"].error
    assert "empty" in rows["empty.png"].error
    assert "corrupt or truncated" in rows["cut.jpg"].error
    assert "folder" in rows["a_folder"].error
    assert "does not exist" in rows["missing.png"].error
    assert "too large" in rows["huge.png"].error
    assert panel.table.row_texts(1)[1].startswith("cannot read: not an image")
    assert panel.table.row_texts(7)[1] in CLASSES and panel.table.row_texts(7)[2].endswith("%")
    assert "6 of 8 files could not be read" in panel.banner.text()
    assert sum("notes.jpg" in t for _, t in messages) == 1  # each bad file is logged, with its path

    detail = wait_detail(qtbot, panel, "good1.png")  # the first readable image is shown in detail
    panel.table.selectRow(7)
    detail = wait_detail(qtbot, panel, "good2.jpg")
    assert panel.topk.entries() == detail.inspection.prediction
    panel.table.selectRow(1)  # a bad row: its reason, nothing left of the image shown before
    assert "notes.jpg" in panel.banner.text() and panel.topk.entries() == []
    assert panel.detail is None and panel.layers.table.rowCount() == 0 and panel.input_pane.base.image is None


def test_csv_export_holds_every_top_k_and_the_errors(qtbot, hub, panel, tmp_path):
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    a, b = write_png(tmp_path / "a.png"), write_png(tmp_path / "b.png", (0, 255, 0))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    with qtbot.waitSignal(panel.rowsDone, timeout=WAIT):
        panel.open_paths([str(a), str(bad), str(b)])
    out = tmp_path / "predictions.csv"
    assert panel.export_csv(str(out))
    with out.open(newline="") as fh:
        lines = list(csv.DictReader(fh))
    by_file = {}
    for line in lines:
        by_file.setdefault(line["file"], []).append(line)
    assert [int(l["rank"]) for l in by_file["a.png"]] == [1, 2, 3]
    assert sorted(l["label"] for l in by_file["b.png"]) == sorted(CLASSES)
    assert sum(float(l["probability"]) for l in by_file["b.png"]) == pytest.approx(1.0, abs=1e-4)
    expected = [(lbl, round(p, 6)) for lbl, p in panel.table.result(0).top]
    assert [(l["label"], float(l["probability"])) for l in by_file["a.png"]] == expected
    assert by_file["a.png"][0]["path"] == str(a)
    assert len(by_file["bad.png"]) == 1 and by_file["bad.png"][0]["error"] and not by_file["bad.png"][0]["label"]
    assert not panel.export_csv(str(tmp_path / "no_such_dir" / "x.csv"))  # a clear message, no exception
    assert "Could not write" in panel.banner.text()


def test_drop_without_a_model_offers_to_train_or_open_then_inspects_when_one_arrives(qtbot, hub, panel, tmp_path):
    image = write_png(tmp_path / "early.png")
    panel.open_paths([str(image)])
    assert "no model yet" in panel.banner.text()
    assert panel.banner.action_titles() == ["Train a model", "Open checkpoint…"]
    with qtbot.waitSignal(panel.trainRequested, timeout=1000):
        panel.banner.trigger("Train a model")
    with qtbot.waitSignal(panel.openCheckpointRequested, timeout=1000):
        panel.banner.trigger("Open checkpoint…")
    assert panel.detail is None
    hub.set_checkpoint(tiny_checkpoint(), "opened later")  # the remembered image is inspected now
    detail = wait_detail(qtbot, panel, "early.png")
    assert detail.model_source == "opened later" and not panel.banner.text()


_gate = threading.Event()
_entered = threading.Event()


class _GatedCNN:
    """A cnn whose forward pass waits for the test's gate, so a job can be held mid-inference."""

    def __new__(cls, **kwargs):
        import torch.nn as nn

        inner = build_model(ModelSpec("cnn", kwargs["num_classes"], kwargs["in_channels"], kwargs["image_size"],
                                      {"blocks": 1, "channels": 4}))

        class Gated(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                _entered.set()
                assert _gate.wait(30), "the test never opened the gate"
                return self.inner(x)

        return Gated()


@pytest.fixture
def gated_model(monkeypatch):
    """Register the gated model for one test only (no other test sees an extra model name)."""
    from core.models import registry

    monkeypatch.setitem(registry._FACTORIES, "gated_cnn", lambda **kw: _GatedCNN(**kw))
    _gate.set()
    yield
    _gate.set()


def test_a_result_for_a_replaced_image_is_dropped(qtbot, hub, panel, tmp_path, gated_model):
    spec = ModelSpec("gated_cnn", 3, 3, 32, {})
    hub.set_checkpoint(checkpoint_from_model(build_model(spec), spec, CLASSES, Preprocess(32)), "gated")
    first, second = write_png(tmp_path / "first.png"), write_png(tmp_path / "second.png", (0, 0, 255))
    shown = []
    panel.detailShown.connect(lambda d: shown.append(d.label))
    _gate.clear()
    _entered.clear()
    try:
        panel.open_paths([str(first)])
        # The worker is now inside the first image's forward pass; the user drops another image.
        qtbot.waitUntil(_entered.is_set, timeout=WAIT)
        panel.open_paths([str(second)])
    finally:
        _gate.set()
    wait_detail(qtbot, panel, "second.png")
    assert panel.shutdown(WAIT)
    # The first image's row, finished after the second drop, arrives and is dropped (counted, never shown).
    qtbot.waitUntil(lambda: panel.stale_results >= 1, timeout=WAIT)
    assert shown == ["second.png"]
    assert [r.label for r in panel.table.results()] == ["second.png"]


def test_a_detail_still_running_when_a_new_image_arrives_is_dropped(qtbot, hub, panel, tmp_path, gated_model):
    spec = ModelSpec("gated_cnn", 3, 3, 32, {})
    hub.set_checkpoint(checkpoint_from_model(build_model(spec), spec, CLASSES, Preprocess(32)), "gated")
    first, second = write_png(tmp_path / "first.png"), write_png(tmp_path / "second.png", (0, 0, 255))
    shown = []
    panel.detailShown.connect(lambda d: shown.append(d.label))
    _gate.set()
    panel.open_paths([str(first)])
    wait_detail(qtbot, panel, "first.png")
    _gate.clear()
    _entered.clear()
    try:
        panel.layers.scaling.setCurrentIndex(1)  # re-inspects first.png; held inside its forward pass
        qtbot.waitUntil(_entered.is_set, timeout=WAIT)
        panel.open_paths([str(second)])
    finally:
        _gate.set()
    wait_detail(qtbot, panel, "second.png")
    assert panel.shutdown(WAIT)
    # The re-inspection of first.png, finished after the drop, arrives and is dropped: never on screen.
    qtbot.waitUntil(lambda: panel.stale_results >= 1, timeout=WAIT)
    assert shown == ["first.png", "second.png"]


def test_saliency_gradcam_for_predicted_and_picked_class_and_mlp_fallback(qtbot, hub, panel, tmp_path):
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    panel.open_paths([str(write_png(tmp_path / "a.png"))])
    detail = wait_detail(qtbot, panel, "a.png")
    view = panel.saliency_view
    panel.views.setCurrentWidget(view)
    qtbot.waitUntil(lambda: panel.saliency is not None, timeout=WAIT)
    first = panel.saliency
    assert first.method == "gradcam" and first.error is None
    assert first.target == detail.inspection.top_class and first.heatmap.shape == (32, 32)
    assert 0.0 <= first.heatmap.min() and first.heatmap.max() <= 1.0
    assert view.layer.itemText(0) == "Auto (features.4)"  # the last conv of a 2-block cnn
    assert view.heat.image is not None

    other = next(i for i in range(len(CLASSES)) if i != detail.inspection.top_class)
    view.target.setCurrentIndex(view.target.findData(other))
    qtbot.waitUntil(lambda: panel.saliency.target == other, timeout=WAIT)
    view.layer.setCurrentIndex(view.layer.findData("features.0"))
    qtbot.waitUntil(lambda: panel.saliency.layer == "features.0", timeout=WAIT)
    view.method.setCurrentIndex(view.method.findData("integrated_gradients"))
    qtbot.waitUntil(lambda: panel.saliency.method == "integrated_gradients", timeout=WAIT)
    assert panel.saliency.heatmap.shape == (32, 32)
    view.opacity.setValue(20)
    assert view.heat.opacity() == pytest.approx(0.2)

    view.method.setCurrentIndex(view.method.findData("gradcam"))
    qtbot.waitUntil(lambda: panel.saliency.method == "gradcam", timeout=WAIT)
    hub.set_checkpoint(tiny_checkpoint("mlp"), "an mlp")  # no conv: the view falls back to gradient saliency
    qtbot.waitUntil(lambda: panel.detail.model_source == "an mlp", timeout=WAIT)
    qtbot.waitUntil(lambda: panel.saliency.method == "saliency" and panel.saliency.error is None, timeout=WAIT)
    assert not view.method.model().item(view.method.findData("gradcam")).isEnabled()
    view.method.setCurrentIndex(view.method.findData("gradcam"))  # forced anyway: a clear message, no crash
    qtbot.waitUntil(lambda: panel.saliency.method == "gradcam" and panel.saliency.error is not None, timeout=WAIT)
    assert "convolutional" in view.status.text()


def test_pinned_probe_refreshes_on_a_new_checkpoint(qtbot, hub, panel, tmp_path):
    hub.set_checkpoint(tiny_checkpoint(seed=0), "epoch 1")
    panel.open_paths([str(write_png(tmp_path / "probe.png"))])
    first = wait_detail(qtbot, panel, "probe.png")
    panel.pin_button.click()
    assert panel.is_pinned() and panel.pin_button.text() == "Pinned"
    with qtbot.waitSignal(panel.detailShown, timeout=WAIT) as blocker:
        hub.set_checkpoint(tiny_checkpoint(seed=1), "epoch 2")
    second = blocker.args[0]
    assert second.label == "probe.png" and second.model_source == "epoch 2"
    assert second.inspection.prediction != first.inspection.prediction  # other weights, other numbers
    panel.pin_button.click()
    assert not panel.is_pinned()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def web(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_urls_are_fetched_off_thread_and_failures_are_explained(qtbot, hub, panel, web):
    root, base = web
    write_png(root / "remote.png", (20, 20, 200))
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    (root / "page.html").write_text("<html><body><img src='remote.png'></body></html>")
    with qtbot.waitSignal(panel.rowsDone, timeout=WAIT):
        panel.open_paths([f"{base}/remote.png", f"{base}/nothing.png", "http://127.0.0.1:9/refused.png",
                          f"{base}/page.html"])
    rows = {r.label: r for r in panel.table.results()}
    assert "web page, not an image" in rows["page.html"].error
    assert rows["remote.png"].error is None and rows["remote.png"].where == f"{base}/remote.png"
    assert "404" in rows["nothing.png"].error
    assert "could not download" in rows["refused.png"].error
    wait_detail(qtbot, panel, "remote.png")
    (root / "big.bin").write_bytes(b"x" * 5000)
    with pytest.raises(ImageLoadError, match="limit"):
        fetch_url(f"{base}/big.bin", max_bytes=1000)
    silent = socket.socket()  # accepts the connection, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        with pytest.raises(ImageLoadError, match="longer than 0.3 s|timed out"):
            fetch_url(f"http://127.0.0.1:{silent.getsockname()[1]}/slow.png", timeout=0.3)
    finally:
        silent.close()


def test_paste_image_data_and_file_urls(qtbot, hub, panel, tmp_path):
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(0x00FF00)
    mime = QMimeData()
    mime.setImageData(image)
    assert panel.paste(mime)
    detail = wait_detail(qtbot, panel, "pasted image")
    assert panel.input_pane.base.image[..., 1].mean() > 200  # green, as pasted

    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(write_png(tmp_path / "copied.png")))])
    assert panel.paste(files)
    wait_detail(qtbot, panel, "copied.png")

    empty = QMimeData()
    empty.setText("just some words")
    assert not panel.paste(empty)
    assert "no image" in panel.banner.text()
    assert detail is not None


def test_a_checkpoint_whose_weights_do_not_fit_gives_a_message_per_image(qtbot, hub, panel, tmp_path):
    broken = tiny_checkpoint()
    broken.model_state = tiny_checkpoint("mlp").model_state  # cnn spec, mlp weights
    hub.set_checkpoint(broken, "broken.pt")
    with qtbot.waitSignal(panel.rowsDone, timeout=WAIT):
        panel.open_paths([str(write_png(tmp_path / "a.png")), str(write_png(tmp_path / "b.png"))])
    errors = [r.error for r in panel.table.results()]
    assert len(errors) == 2 and all(e and "model cannot be used" in e and "do not fit" in e for e in errors)
    assert "current model cannot classify" in panel.banner.text() and panel.banner.level == "error"
    assert panel.detail is None


def test_saliency_for_two_classes_side_by_side(qtbot, hub, panel, tmp_path):
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    probe = write_png(tmp_path / "a.png")
    panel.open_paths([str(probe)])
    top = wait_detail(qtbot, panel, "a.png").inspection.top_class
    other = next(i for i in range(len(CLASSES)) if i != top)
    panel.open_with_saliency_pair(str(probe), CLASSES[other])  # what a gallery click asks for: predicted vs true
    view = panel.saliency_view
    assert panel.views.currentWidget() is view
    qtbot.waitUntil(lambda: panel.saliency is not None and panel.saliency.compare_target == other, timeout=WAIT)
    pair = panel.saliency
    assert pair.error is None and pair.target == top
    assert pair.heatmap.shape == pair.compare_heatmap.shape == (32, 32)
    assert not np.array_equal(pair.heatmap, pair.compare_heatmap)  # each class has its own evidence
    assert view.pane2.isVisibleTo(view) and view.heat2.image is not None
    assert f"'{CLASSES[other]}' (right)" in view.status.text()
    view.compare.setCurrentIndex(0)  # "Nothing": back to one map
    qtbot.waitUntil(lambda: panel.saliency.compare_target is None, timeout=WAIT)
    assert panel.saliency.compare_heatmap is None and not view.pane2.isVisibleTo(view)


def test_add_to_dataset_copies_into_the_chosen_class_and_refuses_builtins(qtbot, hub, panel, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    for name in CLASSES:
        (tmp_path / "data" / name).mkdir(parents=True)
    existing = write_png(tmp_path / "data" / "star" / "wrong.png", colour=(1, 2, 3))
    hub.set_checkpoint(tiny_checkpoint(), "unit test")
    dropped = write_png(tmp_path / "wrong.png")
    panel.open_paths([str(dropped)])
    wait_detail(qtbot, panel, "wrong.png")
    assert panel.add_button.isEnabled()
    asked = []
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a: (asked.append(a[3]), ("star", True))[1]))
    panel.dataset_provider = lambda: "shapes"
    panel.add_button.click()  # a built-in set: refused, and the user is told why
    assert "built-in dataset" in panel.banner.text() and not asked
    assert sorted(p.name for p in (tmp_path / "data").rglob("*.png")) == ["wrong.png"]
    panel.dataset_provider = lambda: str(tmp_path / "data")
    panel.add_button.click()
    assert asked == [CLASSES]  # the dataset's class folders are offered
    (added,) = [p for p in (tmp_path / "data").rglob("*.png") if p != existing]
    assert str(added) in panel.banner.text()
    assert added.parent == tmp_path / "data" / "star" and added.name != "wrong.png"  # never an overwrite
    assert added.read_bytes() == dropped.read_bytes() and Image.open(existing).getpixel((0, 0)) == (1, 2, 3)
