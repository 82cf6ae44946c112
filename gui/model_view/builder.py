"""The model builder form: pick a model and its options; `changed` fires on every edit.

Options map one to one onto the keyword arguments of core.models' factories, so what the form shows is
exactly what `build_model(ModelSpec(name, ..., options))` builds. The models, their options' defaults and
limits come from core.catalog (torch-free, so the form appears before torch is imported).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QRadioButton, QSpinBox,
                               QStackedWidget, QVBoxLayout, QWidget)

from core import catalog


def _spin(setting, **kw) -> QSpinBox:
    box = QSpinBox(minimum=int(setting.minimum), maximum=int(setting.maximum), value=int(setting.default), **kw)
    box.setToolTip(setting.help)
    return box


def _double(setting, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox(minimum=setting.minimum, maximum=setting.maximum, singleStep=setting.step or 0.1,
                         value=setting.default, decimals=decimals)
    box.setToolTip(setting.help)
    return box


class MlpOptions(QWidget):
    """Input layer (the flattened image) -> N hidden layers, each with its own width -> output layer."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.layers = _spin(catalog.MLP_HIDDEN_LAYERS)
        form.addRow("Hidden layers", self.layers)
        self._width_rows = QVBoxLayout()
        self._width_rows.setContentsMargins(0, 0, 0, 0)
        holder = QWidget()
        holder.setLayout(self._width_rows)
        form.addRow("Widths", holder)
        self.widths: list[QSpinBox] = []
        self.activation = QComboBox()
        self.activation.addItems(catalog.ACTIVATION.names)
        self.activation.setCurrentText(catalog.ACTIVATION.default)
        form.addRow("Activation", self.activation)
        self.dropout = _double(catalog.MLP_DROPOUT)
        form.addRow("Dropout", self.dropout)
        self.layers.valueChanged.connect(self._sync_width_rows)
        self.activation.currentIndexChanged.connect(self.changed)
        self.dropout.valueChanged.connect(self.changed)
        self._sync_width_rows()

    def _sync_width_rows(self) -> None:
        n = self.layers.value()
        defaults = catalog.MLP_WIDTH_SUGGESTIONS
        while len(self.widths) < n:
            spin = _spin(catalog.MLP_WIDTH)
            spin.setValue(defaults[len(self.widths)])
            spin.setSuffix(" units")
            spin.setAccelerated(True)
            spin.setToolTip(f"Width of hidden layer {len(self.widths) + 1}")
            spin.valueChanged.connect(self.changed)
            self.widths.append(spin)
            self._width_rows.addWidget(spin)
        while len(self.widths) > n:
            spin = self.widths.pop()
            self._width_rows.removeWidget(spin)
            spin.deleteLater()
        self.changed.emit()

    def set_hidden(self, widths: list[int]) -> None:
        self.layers.setValue(len(widths))
        for spin, w in zip(self.widths, widths):
            spin.setValue(int(w))

    def options(self) -> dict:
        return {"hidden": [s.value() for s in self.widths], "activation": self.activation.currentText(),
                "dropout": round(self.dropout.value(), 3)}

    def set_options(self, options: dict) -> None:
        if "hidden" in options:
            self.set_hidden(list(options["hidden"]))
        if "activation" in options:
            self.activation.setCurrentText(str(options["activation"]))
        if "dropout" in options:
            self.dropout.setValue(float(options["dropout"]))


class CnnOptions(QWidget):
    """Conv blocks (conv -> batch norm -> ReLU -> max pool) with channels doubling per block."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.blocks = _spin(catalog.CNN_BLOCKS)
        form.addRow(catalog.CNN_BLOCKS.label, self.blocks)
        self.channels = _spin(catalog.CNN_CHANNELS)
        form.addRow(catalog.CNN_CHANNELS.label, self.channels)
        self.batch_norm = QCheckBox(catalog.CNN_BATCH_NORM.label, checked=catalog.CNN_BATCH_NORM.default)
        form.addRow("", self.batch_norm)
        self.dropout = _double(catalog.CNN_DROPOUT)
        form.addRow(catalog.CNN_DROPOUT.label, self.dropout)
        for w in (self.blocks, self.channels, self.dropout):
            w.valueChanged.connect(self.changed)
        self.batch_norm.toggled.connect(self.changed)

    def options(self) -> dict:
        return {"blocks": self.blocks.value(), "channels": self.channels.value(),
                "batch_norm": self.batch_norm.isChecked(), "dropout": round(self.dropout.value(), 3)}

    def set_options(self, options: dict) -> None:
        self.blocks.setValue(int(options.get("blocks", self.blocks.value())))
        self.channels.setValue(int(options.get("channels", self.channels.value())))
        self.batch_norm.setChecked(bool(options.get("batch_norm", self.batch_norm.isChecked())))
        self.dropout.setValue(float(options.get("dropout", self.dropout.value())))


class TorchvisionOptions(QWidget):
    """Weights (from scratch / ImageNet pretrained / a local file) and how much of the backbone trains."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        # One radio button per weight source in the catalogue: scratch, pretrained, file.
        source = {c.name: c for c in catalog.WEIGHT_SOURCE.choices}
        self.scratch, self.pretrained, self.local = (QRadioButton(source[n].title) for n in ("scratch", "pretrained", "file"))
        for button, name in ((self.scratch, "scratch"), (self.pretrained, "pretrained"), (self.local, "file")):
            button.setToolTip(source[name].help)
        self.scratch.setChecked(True)
        group = QButtonGroup(self)
        for b in (self.scratch, self.pretrained, self.local):
            group.addButton(b)
            form.addRow(b)
        self.weights_path = QLineEdit(placeholderText=".pth / .pt file")
        self.browse = QPushButton("Browse…")
        row = QHBoxLayout()
        row.addWidget(self.weights_path, 1)
        row.addWidget(self.browse)
        form.addRow(row)
        self.freeze = QRadioButton(catalog.FREEZE_BACKBONE.label)
        self.freeze.setToolTip(catalog.FREEZE_BACKBONE.help)
        self.finetune = QRadioButton("Fine-tune everything", checked=True)
        tune_group = QButtonGroup(self)
        tune_group.addButton(self.freeze)
        tune_group.addButton(self.finetune)
        form.addRow(self.finetune)
        self.lr_scale = _double(catalog.BACKBONE_LR_SCALE, decimals=3)
        form.addRow(f"  {catalog.BACKBONE_LR_SCALE.label}", self.lr_scale)
        form.addRow(self.freeze)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setObjectName("hint")
        form.addRow(self.note)
        group.buttonToggled.connect(self._sync)
        tune_group.buttonToggled.connect(self._sync)
        self.weights_path.textChanged.connect(self.changed)
        self.lr_scale.valueChanged.connect(self.changed)
        self.browse.clicked.connect(self._pick_file)
        self._sync()

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights file", "", "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.local.setChecked(True)
            self.weights_path.setText(path)

    def _sync(self, *_args) -> None:
        local = self.local.isChecked()
        self.weights_path.setEnabled(local)
        self.browse.setEnabled(local)
        from_scratch = self.scratch.isChecked()
        self.freeze.setEnabled(not from_scratch)
        self.lr_scale.setEnabled(self.finetune.isChecked())
        self.note.setText("Freezing a randomly initialised backbone rarely helps: choose pretrained or a weights file."
                          if from_scratch and self.freeze.isChecked() else "")
        self.changed.emit()

    def _buttons(self) -> dict:
        return {"scratch": self.scratch, "pretrained": self.pretrained, "file": self.local}

    def options(self) -> dict:
        source = next(name for name, button in self._buttons().items() if button.isChecked())
        opts = catalog.weight_options(source, self.weights_path.text().strip())
        if self.freeze.isChecked() and self.freeze.isEnabled():
            opts["freeze_backbone"] = True
        return opts

    def backbone_lr_scale(self) -> float:
        return round(self.lr_scale.value(), 4) if self.finetune.isChecked() else 1.0

    def set_options(self, options: dict) -> None:
        source = catalog.weight_source(options)
        self._buttons()[source].setChecked(True)
        if source == "file":
            self.weights_path.setText(str(options["weights_path"]))
        (self.freeze if options.get("freeze_backbone") else self.finetune).setChecked(True)


class ModelBuilder(QWidget):
    """Model choice + the options page for it. `changed` fires whenever the model to build changes."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        self.model_combo = QComboBox()
        for name, info in catalog.MODELS.items():
            self.model_combo.addItem(name)
            self.model_combo.setItemData(self.model_combo.count() - 1, info.title, Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setCurrentText(catalog.DEFAULT_MODEL)
        form.addRow("Model", self.model_combo)
        layout.addLayout(form)
        self.mlp = MlpOptions()
        self.cnn = CnnOptions()
        self.torchvision = TorchvisionOptions()
        self.pages = QStackedWidget()
        for page in (self.mlp, self.cnn, self.torchvision):
            self.pages.addWidget(page)
            page.changed.connect(self.changed)
        layout.addWidget(self.pages)
        layout.addStretch(1)
        self.model_combo.currentTextChanged.connect(self._on_model)
        self._on_model(self.model_combo.currentText())

    def _page(self, name: str) -> QWidget:
        family = catalog.MODELS[name].family if name in catalog.MODELS else "torchvision"
        return {"mlp": self.mlp, "cnn": self.cnn}.get(family, self.torchvision)

    def _on_model(self, name: str) -> None:
        self.pages.setCurrentWidget(self._page(name))
        self.changed.emit()

    def model_name(self) -> str:
        return self.model_combo.currentText()

    def set_model_name(self, name: str) -> None:
        self.model_combo.setCurrentText(name)

    def model_options(self) -> dict:
        return self._page(self.model_name()).options()

    def set_model(self, name: str, options: dict | None = None) -> None:
        self.set_model_name(name)
        if options:
            self._page(name).set_options(options)

    def train_overrides(self) -> dict:
        """TrainConfig fields the model choice decides (fine-tuning's backbone learning rate scale)."""
        if self._page(self.model_name()) is self.torchvision:
            return {"backbone_lr_scale": self.torchvision.backbone_lr_scale()}
        return {"backbone_lr_scale": 1.0}
