"""The learning-rate finder in the app: Find Learning Rate… runs the range test on the form's settings in the
background, draws the curve and the band, and a click on the curve sets the form's learning rate."""
import math

from PySide6.QtCore import Qt

from gui.training.lr_finder import lr_text, rounded_lr


def test_a_click_on_the_lr_curve_sets_the_forms_learning_rate(window, qtbot):
    window.run_settings.update({"image_size": 16, "train_count": 48, "batch_size": 8})
    assert window.panel.own_fields.find_lr_button.isEnabled()
    window.panel.find_lr_action.trigger()  # the button beside the learning rate, and the Training menu's item
    dialog = window.train_tab.lr_finder
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=240_000)
    curve, band = dialog.result.curve, dialog.result.band
    assert len(dialog.points.getData()[0]) == len(curve.lrs) and dialog.band.isVisible()
    low, high = dialog.band.getRegion()
    assert (low, high) == (math.log10(band.low), math.log10(band.high))
    assert window.run_settings.get("lr") == "0.003"  # nothing set yet

    target = math.sqrt(band.low * band.high)  # in the middle of the band, on the trend line
    i = min(range(len(curve.lrs)), key=lambda k: abs(math.log10(curve.lrs[k] / target)))
    qtbot.mouseClick(dialog.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=dialog.scene_pos_of(curve.lrs[i], curve.trend[i]))
    chosen = window.run_settings.get("lr")
    assert chosen != "0.003" and window.panel.lr.text() == chosen
    assert abs(math.log10(float(chosen) / curve.lrs[i])) < 0.1  # where the click was, to two digits
    assert "Learning rate set to" in dialog.summary.text() and "from the range test" in window.log.text()

    dialog.use_button.click()  # the band's middle
    assert window.run_settings.get("lr") == lr_text(rounded_lr(math.sqrt(band.low * band.high)))
    dialog.close()
