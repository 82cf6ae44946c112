"""The Model tab shows the network as it is built: layer rows, parameter totals, diagram, memory warning."""
import pytest

from gui.model_view import ModelView

WAIT = 60_000  # the first summary imports torch on the worker thread: slow on a busy 2-core machine


@pytest.fixture
def view(qtbot):
    w = ModelView()
    qtbot.addWidget(w)
    yield w
    w.shutdown()


def settle(qtbot, view):
    """Wait until the summary for the current settings has arrived."""
    qtbot.waitUntil(lambda: not view.is_busy() and view.summary() is not None
                    and view.summary().request.model_name == view.model_name(), timeout=WAIT)
    return view.summary()


def test_mlp_hidden_layers_change_rows_and_params(qtbot, view):
    view.set_input(num_classes=3, channels=1, image_size=8)
    view.set_model("mlp", {"hidden": [16], "activation": "relu", "dropout": 0.0})
    first = settle(qtbot, view)
    # flatten, linear, relu, linear(out)
    assert view.layer_model.rowCount() == 4
    assert first.total_params == (64 * 16 + 16) + (16 * 3 + 3)
    assert [b.title for b in view.diagram.blocks()] == ["Input", "Flatten", "Hidden 1", "Output"]

    with qtbot.waitSignal(view.summary_ready, timeout=WAIT):
        view.builder.mlp.layers.setValue(3)
    second = view.summary()
    assert view.layer_model.rowCount() == 8
    assert second.request.options["hidden"] == [16, 128, 64]  # new rows get the default widths
    assert second.total_params == (64 * 16 + 16) + (16 * 128 + 128) + (128 * 64 + 64) + (64 * 3 + 3)
    assert f"{second.total_params:,}" in view.totals_label.text()
    assert [b.title for b in view.diagram.blocks()][-2:] == ["Hidden 3", "Output"]

    with qtbot.waitSignal(view.summary_ready, timeout=WAIT):
        view.builder.mlp.widths[0].setValue(32)
    assert view.summary().total_params == (64 * 32 + 32) + (32 * 128 + 128) + (128 * 64 + 64) + (64 * 3 + 3)


def test_options_feed_the_run_settings(qtbot, view):
    view.set_model("cnn", {"blocks": 2, "channels": 8, "batch_norm": False, "dropout": 0.0})
    assert view.model_name() == "cnn"
    assert view.model_options() == {"blocks": 2, "channels": 8, "batch_norm": False, "dropout": 0.0}
    summary = settle(qtbot, view)
    assert [r.type for r in summary.rows].count("Conv2d") == 2
    assert not any(r.type == "BatchNorm2d" for r in summary.rows)

    view.set_model("resnet18")
    tv = view.builder.torchvision
    tv.local.setChecked(True)
    tv.weights_path.setText("/tmp/some.pth")
    tv.lr_scale.setValue(0.1)
    assert view.model_options() == {"weights_path": "/tmp/some.pth"}
    assert view.train_overrides() == {"backbone_lr_scale": 0.1}
    tv.pretrained.setChecked(True)
    tv.freeze.setChecked(True)
    assert view.model_options() == {"pretrained": True, "freeze_backbone": True}
    assert view.train_overrides() == {"backbone_lr_scale": 1.0}


def test_bad_options_show_an_error_not_a_crash(qtbot, view):
    view.set_input(num_classes=2, channels=3, image_size=8)
    with qtbot.waitSignal(view.summary_failed, timeout=WAIT):
        view.set_model("cnn", {"blocks": 6, "channels": 4})  # 8 px cannot be halved six times
    assert view.error_label.isVisibleTo(view)
    assert "cnn" in view.error_label.text()
    assert view.layer_model.rowCount() == 0


def confirm(qtbot, view) -> bool:
    """ModelView.confirm_run's answer (given at once, or once the summary is made off the GUI thread)."""
    answers = []
    view.confirm_run(answers.append)
    qtbot.waitUntil(lambda: bool(answers), timeout=WAIT)
    return answers[0]


def test_memory_estimate_and_warning_for_a_huge_batch(qtbot, view, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    view.set_input(num_classes=2, channels=3, image_size=64)
    view.set_model("cnn", {"blocks": 2, "channels": 8})
    summary = settle(qtbot, view)
    assert summary.memory is not None and summary.memory.total_mb > 0
    assert "MB" in view.memory_label.text() and "not fit" not in view.memory_label.text()
    assert confirm(qtbot, view) is True  # fits: no question asked

    with qtbot.waitSignal(view.summary_ready, timeout=WAIT):
        view.set_input(num_classes=2, channels=3, image_size=512)
        view.set_batch_size(65_536)  # the largest batch the catalogue allows; activations alone: terabytes
    assert view.would_not_fit()
    assert "not fit" in view.memory_label.text()
    assert view.memory_label.isVisibleTo(view)
    asked = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: asked.append(a) or QMessageBox.No)
    assert confirm(qtbot, view) is False
    assert asked and "batch size" in asked[0][2]


def test_pretrained_weights_set_the_input_size(qtbot, view):
    view.set_input(num_classes=10, channels=1, image_size=28)  # MNIST
    view.set_model("mobilenet_v3_small", {})
    assert settle(qtbot, view).request.image_size == 28
    with qtbot.waitSignal(view.summary_ready, timeout=WAIT):
        view.builder.torchvision.pretrained.setChecked(True)  # never downloads: the summary skips weights
    summary = view.summary()
    assert (summary.request.in_channels, summary.request.image_size) == (3, 224)
    assert "3×224×224" in view.input_label.text() and "pretrained" in view.input_label.text()
    assert summary.rows[-1].output_shape == (10,)


def test_confirm_run_uses_the_settings_of_this_moment(qtbot, view, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    view.set_model("cnn", {"blocks": 2, "channels": 8})
    settle(qtbot, view)
    assert not view.would_not_fit()
    asked = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: asked.append(a) or QMessageBox.No)
    view.set_input(num_classes=2, channels=3, image_size=512)
    view.set_batch_size(65_536)  # and Train at once, before the debounced rebuild has run
    assert confirm(qtbot, view) is False and asked
    assert view.summary().request.batch_size == 65_536
