"""Where the model looked: Grad-CAM (automatic layer = last conv, or one the user picks), Integrated
Gradients or plain gradient saliency, for the predicted class or a class the user picks, drawn over the
model's view of the image with an opacity slider. "Side by side with" adds a second map for another class
(the Evaluate tab sets it to the true class of a mistake). The panel computes maps on the worker when asked."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from gui.plotting.image_panes import ImagePane, show_bar

HEAT_MAP = "turbo"

METHODS = (("Grad-CAM", "gradcam"), ("Integrated Gradients", "integrated_gradients"), ("Saliency (gradient)", "saliency"))
PREDICTED = -1  # the target combo's "predicted class" entry
AUTO_LAYER = ""
RESULT_TITLES = {"gradcam": "Grad-CAM", "integrated_gradients": "Integrated Gradients", "saliency": "Gradient saliency"}  # the layer combo's "automatic (last conv)" entry


class SaliencyView(QWidget):
    requested = Signal(str, int, object)  # method, target class index (PREDICTED for top-1), layer or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.method = QComboBox()
        for title, value in METHODS:
            self.method.addItem(title, value)
        self.target = QComboBox()
        self.target.setToolTip("Explain the predicted class, or pick another class to see what speaks for it")
        self.compare = QComboBox()
        self.compare.setToolTip("A second map beside the first, for another class (for a mistake: the true class)")
        self._wanted_compare: str | None = None  # a class name asked for before the classes were known
        self.layer = QComboBox()
        self.layer.setToolTip("Grad-CAM layer: the last convolution by default (coarse but most semantic)")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(80)
        self.opacity.setToolTip("Opacity of the map over the image")
        self.status = QLabel("Drop an image to see where the model looks")
        self.status.setWordWrap(True)
        self.pane = ImagePane(min_size=220)
        self.heat = self.pane.add_layer(opacity=0.8)
        self.pane2 = ImagePane(min_size=220)  # the "side by side" class's map
        self.heat2 = self.pane2.add_layer(opacity=0.8)
        self.pane2.setVisible(False)
        self.bars = [pane.add_colour_bar(HEAT_MAP, "importance for the class", ticks={0.0: "low", 1.0: "high"})
                     for pane in (self.pane, self.pane2)]  # shown with a map: what its colours mean
        for bar in self.bars:
            show_bar(bar, False)
        self.opacity.valueChanged.connect(lambda v: (self.heat.setOpacity(v / 100), self.heat2.setOpacity(v / 100)))

        controls = QHBoxLayout()
        for title, widget in (("Method", self.method), ("Class", self.target), ("Side by side with", self.compare),
                              ("Layer", self.layer)):
            controls.addWidget(QLabel(title))
            controls.addWidget(widget, 1)
        controls.addWidget(QLabel("Opacity"))
        controls.addWidget(self.opacity, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        panes = QHBoxLayout()
        panes.addWidget(self.pane, 1)
        panes.addWidget(self.pane2, 1)
        layout.addLayout(panes, 1)

        self.method.currentIndexChanged.connect(self._on_method)
        self.target.currentIndexChanged.connect(self._emit_request)
        self.compare.currentIndexChanged.connect(self._emit_request)
        self.layer.currentIndexChanged.connect(self._emit_request)
        self._populating = False
        self._heatmap: np.ndarray | None = None

    # ---- set-up from a new inspection ----------------------------------------------------------------
    def set_model_info(self, classes: list[str], predicted: str | None, conv_layers: list[str], auto_layer: str | None) -> None:
        """Refill the class and layer choices, keeping the user's picks when they still exist."""
        self._populating = True
        kept_target = self.target.currentData()
        kept_layer = self.layer.currentData()
        kept_compare = self.compare.currentText()
        self.target.clear()
        self.target.addItem(f"Predicted ({predicted})" if predicted else "Predicted class", PREDICTED)
        self.compare.clear()
        self.compare.addItem("Nothing", None)
        for i, name in enumerate(classes):
            self.target.addItem(name, i)
            self.compare.addItem(name, i)
        self.layer.clear()
        self.layer.addItem(f"Auto ({auto_layer})" if auto_layer else "Auto", AUTO_LAYER)
        for name in conv_layers:
            self.layer.addItem(name, name)
        self._select_data(self.target, kept_target)
        self._select_data(self.layer, kept_layer)
        wanted = self._wanted_compare if self._wanted_compare is not None else kept_compare
        self._wanted_compare = None
        self.compare.setCurrentIndex(max(0, self.compare.findText(wanted)))
        # No convolution (an MLP): Grad-CAM cannot apply, so offer the gradient methods only.
        gradcam_item = self.method.model().item(self.method.findData("gradcam"))
        gradcam_item.setEnabled(auto_layer is not None)
        if auto_layer is None and self.current_method() == "gradcam":
            self.method.setCurrentIndex(self.method.findData("saliency"))
        self._populating = False
        self.layer.setEnabled(self.current_method() == "gradcam" and bool(conv_layers))

    @staticmethod
    def _select_data(combo: QComboBox, value) -> None:
        index = combo.findData(value)
        combo.setCurrentIndex(index if index >= 0 else 0)

    def set_input(self, rgb: np.ndarray | None) -> None:
        self.pane.show_rgb(rgb)
        self.pane2.show_rgb(rgb)

    def compare_with(self, class_name: str | None) -> None:
        """Show a second map for `class_name` (None: one map); applied now or when the classes arrive."""
        found = self.compare.findText(class_name) if class_name else 0
        if found >= 0 and self.compare.count():
            self.compare.setCurrentIndex(found)
        else:
            self._wanted_compare = class_name

    def compare_target(self) -> int | None:
        data = self.compare.currentData()
        return None if data is None else int(data)

    # ---- requests and results ------------------------------------------------------------------------
    def current_method(self) -> str:
        return self.method.currentData()

    def current_request(self) -> tuple[str, int, str | None]:
        target = self.target.currentData()
        layer = self.layer.currentData() or None
        return self.current_method(), PREDICTED if target is None else int(target), layer

    def _on_method(self) -> None:
        self.layer.setEnabled(self.current_method() == "gradcam" and self.layer.count() > 1)
        self._emit_request()

    def _emit_request(self) -> None:
        if not self._populating:
            self.requested.emit(*self.current_request())

    def set_pending(self, text: str) -> None:
        self.status.setText(text)

    def set_heatmap(self, heatmap: np.ndarray | None, text: str, second: np.ndarray | None = None) -> None:
        """The map (and the side-by-side class's map, when there is one) with a line saying what they show."""
        self._heatmap = heatmap
        self.status.setText(text)
        self.pane2.setVisible(second is not None)
        for pane, item, values, bar in ((self.pane, self.heat, heatmap, self.bars[0]),
                                        (self.pane2, self.heat2, second, self.bars[1])):
            show_bar(bar, values is not None)
            if values is None:
                item.clear()
                continue
            size = pane.base.image.shape[0] if pane.base.image is not None else values.shape[0]
            if values.shape[0] != size:
                from gui.inspector.layer_browser import upscale_nearest

                values = upscale_nearest(values, size)
            pane.show_scalar(values, HEAT_MAP, item=item, fade_low=True)

    def show_result(self, result, classes: list[str]) -> None:
        """A computed SaliencyResult (without error): its map(s) and which class each one explains."""
        def name(i: int) -> str:
            return classes[i] if 0 <= i < len(classes) else str(i)

        layer = f", layer {result.layer}" if result.layer else ""
        beside = f" (left) and '{name(result.compare_target)}' (right)" if result.compare_target is not None else ""
        flat = [f"'{name(t)}'" for t, m in ((result.target, result.heatmap),
                                            (result.compare_target, result.compare_heatmap))
                if m is not None and not float(np.max(m)) > 0]
        note = (f". The map for {' and '.join(flat)} is zero everywhere: nothing in the image speaks for that class "
                "at this layer (try Integrated Gradients)") if flat else ""
        self.set_heatmap(result.heatmap, f"{RESULT_TITLES[result.method]} for class '{name(result.target)}'"
                                         f"{beside}{layer}{note}", result.compare_heatmap)

    def heatmap(self) -> np.ndarray | None:
        return self._heatmap
