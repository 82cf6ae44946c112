"""The training form (dataset, model, hyper-parameters) and the Train / Pause / Stop actions.

Imported before torch is loaded: the model list and the defaults (from core's TrainConfig / DataSpec) arrive
later through `engine_loaded()`; until then the form is disabled. `run_settings()` builds core's RunSettings.
"""
from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QLineEdit, QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget)

FOLDER_ITEM = "Folder…"
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "step")
DEVICES = ("auto", "cpu", "cuda")


class SettingsError(ValueError):
    """A form value cannot be used; the message names the field and what to type."""


def _action(parent, text: str, shortcut: str, tip: str, *more: str) -> QAction:
    action = QAction(text, parent)
    action.setShortcuts([QKeySequence(k) for k in (shortcut, *more)])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    native = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip} ({native})")
    return action


class TrainingPanel(QWidget):
    trainRequested = Signal()
    pauseToggled = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._engine_ready = False
        self._state = "idle"

        self.train_action = _action(self, "&Train", "Ctrl+Return", "Start training with these settings",
                                    "Ctrl+Enter")  # the keypad's Enter too
        self.pause_action = _action(self, "&Pause", "Ctrl+P", "Pause or resume the run")
        self.stop_action = _action(self, "&Stop", "Ctrl+.", "Stop the run and save last.pt")
        self.train_action.triggered.connect(self.trainRequested)
        self.pause_action.triggered.connect(self.pauseToggled)
        self.stop_action.triggered.connect(self.stopRequested)

        self.dataset = QComboBox()
        self.dataset.setToolTip("What to train on: the built-in shapes set, or a folder with one sub-folder per class")
        self.dataset.addItem("shapes", "shapes")
        self.dataset.addItem(FOLDER_ITEM, None)
        self.dataset.activated.connect(self._on_dataset_activated)
        self._last_dataset_index = 0
        self.train_count = QSpinBox()
        self.train_count.setRange(20, 1_000_000)
        self.train_count.setSingleStep(500)
        self.train_count.setToolTip("How many shapes images to generate for training (validation gets 1/8 of that)")
        self.model = QComboBox()
        self.model.setToolTip("The network to train")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10_000)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 65_536)
        self.lr = QLineEdit()
        self.lr.setToolTip("Learning rate, e.g. 0.001 or 1e-3")
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.weight_decay = QLineEdit()
        self.weight_decay.setToolTip("L2 penalty on the weights, e.g. 0 or 5e-4")
        self.schedule = QComboBox()
        self.schedule.addItems(SCHEDULES)
        self.schedule.setToolTip("Learning-rate schedule over the epochs")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setToolTip("auto: the GPU when PyTorch sees one, else the CPU")

        data_box = QGroupBox("Data and model")
        form = QFormLayout(data_box)
        form.addRow("Dataset", self.dataset)
        form.addRow("Shapes images", self.train_count)
        form.addRow("Model", self.model)
        # The image count only means something for the generated shapes set: show it only then.
        self.dataset.currentIndexChanged.connect(
            lambda _i: form.setRowVisible(self.train_count, (self.dataset.currentData() or "shapes") == "shapes"))
        opt_box = QGroupBox("Training")
        form2 = QFormLayout(opt_box)
        form2.addRow("Epochs", self.epochs)
        form2.addRow("Batch size", self.batch_size)
        form2.addRow("Learning rate", self.lr)
        form2.addRow("Optimizer", self.optimizer)
        form2.addRow("Weight decay", self.weight_decay)
        form2.addRow("Schedule", self.schedule)
        form2.addRow("Seed", self.seed)
        form2.addRow("Device", self.device)

        self.train_button = self._button(self.train_action, "trainButton")
        self.pause_button = self._button(self.pause_action, "pauseButton")
        self.stop_button = self._button(self.stop_action, "stopButton")
        buttons = QHBoxLayout()
        for b in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addWidget(data_box)
        layout.addWidget(opt_box)
        layout.addLayout(buttons)
        self.progress_slot = QVBoxLayout()  # the main window puts the progress panel here
        layout.addLayout(self.progress_slot)
        layout.addStretch(1)
        self._fields = [self.dataset, self.train_count, self.model, self.epochs, self.batch_size, self.lr,
                        self.optimizer, self.weight_decay, self.schedule, self.seed, self.device]
        self._update_enabled()

    @staticmethod
    def _button(action: QAction, name: str) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setObjectName(name)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.setMinimumHeight(30)
        return button

    # ---- engine and state ----------------------------------------------------------------------------
    def engine_loaded(self, model_names, defaults: dict, saved: dict | None = None) -> None:
        """Fill the model list and the defaults, then the values saved last time (where still valid)."""
        self.model.clear()
        self.model.addItems(list(model_names))
        self.set_values(defaults)
        if saved:
            self.set_values(saved)
        self._engine_ready = True
        self._update_enabled()

    def set_state(self, state: str) -> None:
        self._state = state
        self._update_enabled()

    def _update_enabled(self) -> None:
        idle = self._state == "idle"
        self.train_action.setEnabled(self._engine_ready and idle)
        self.pause_action.setEnabled(self._state in ("running", "paused"))
        self.pause_action.setText("&Resume" if self._state == "paused" else "&Pause")
        self.stop_action.setEnabled(self._state in ("running", "paused"))
        for w in self._fields:
            w.setEnabled(self._engine_ready and idle)

    # ---- datasets ------------------------------------------------------------------------------------
    def add_dataset(self, label: str, name: str) -> int:
        """Add a dataset choice (before "Folder…"); returns its index. Used by the data panels too."""
        index = self.dataset.findData(name)
        if index >= 0:
            return index
        index = self.dataset.count() - 1
        self.dataset.insertItem(index, label, name)
        return index

    def select_dataset(self, name: str) -> None:
        index = self.dataset.findData(name)
        if index < 0:
            index = self.add_dataset(Path(name).name or name, name) if ("/" in name or "\\" in name) else -1
        if index >= 0:
            self.dataset.setCurrentIndex(index)
            self._last_dataset_index = index

    def _on_dataset_activated(self, index: int) -> None:
        if self.dataset.itemData(index) is not None:
            self._last_dataset_index = index
            return
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder (one sub-folder per class)")
        if folder:
            self.select_dataset(folder)
        else:
            self.dataset.setCurrentIndex(self._last_dataset_index)

    # ---- values --------------------------------------------------------------------------------------
    def values(self) -> dict:
        return {
            "dataset": self.dataset.currentData() or "shapes", "train_count": self.train_count.value(),
            "model": self.model.currentText(), "epochs": self.epochs.value(), "batch_size": self.batch_size.value(),
            "lr": self.lr.text().strip(), "optimizer": self.optimizer.currentText(),
            "weight_decay": self.weight_decay.text().strip(), "schedule": self.schedule.currentText(),
            "seed": self.seed.value(), "device": self.device.currentText(),
        }

    def set_values(self, v: dict) -> None:
        """Apply the keys given; unknown or unusable values are skipped (old saved settings never break the form)."""
        def combo(box: QComboBox, value) -> None:
            i = box.findText(str(value))
            if i >= 0:
                box.setCurrentIndex(i)

        def number(box, value) -> None:
            try:
                box.setValue(type(box.value())(value))
            except (TypeError, ValueError):
                pass

        if "dataset" in v and isinstance(v["dataset"], str):
            d = v["dataset"]
            if self.dataset.findData(d) >= 0 or Path(d).is_dir():
                self.select_dataset(d)
        for key, box in (("train_count", self.train_count), ("epochs", self.epochs), ("batch_size", self.batch_size),
                         ("seed", self.seed)):
            if key in v:
                number(box, v[key])
        for key, box in (("model", self.model), ("optimizer", self.optimizer), ("schedule", self.schedule),
                         ("device", self.device)):
            if key in v:
                combo(box, v[key])
        for key, edit in (("lr", self.lr), ("weight_decay", self.weight_decay)):
            if key in v:
                edit.setText(f"{v[key]:g}" if isinstance(v[key], (int, float)) else str(v[key]))

    def run_settings(self):
        """The form as core's RunSettings. Raises SettingsError naming a bad field."""
        from core.catalog import shapes_val_count
        from core.data import DataSpec
        from core.session import RunSettings
        from core.trainer import TrainConfig

        v = self.values()
        try:
            lr = float(v["lr"])
        except ValueError:
            raise SettingsError(f"Learning rate: '{v['lr']}' is not a number; type something like 0.001 or 1e-3") from None
        if not (lr > 0 and math.isfinite(lr)):
            raise SettingsError(f"Learning rate must be a positive number (got {v['lr']})")
        try:
            weight_decay = float(v["weight_decay"] or 0)
        except ValueError:
            raise SettingsError(f"Weight decay: '{v['weight_decay']}' is not a number; type 0 or something like 5e-4") from None
        if not (weight_decay >= 0 and math.isfinite(weight_decay)):
            raise SettingsError(f"Weight decay must be 0 or a positive number (got {v['weight_decay']})")
        if not v["model"]:
            raise SettingsError("No model is selected (is the engine still loading?)")
        data = DataSpec(name=v["dataset"], seed=v["seed"])
        if v["dataset"] == "shapes":
            data.train_count = v["train_count"]
            data.val_count = shapes_val_count(v["train_count"])
        train = TrainConfig(epochs=v["epochs"], batch_size=v["batch_size"], lr=lr, optimizer=v["optimizer"],
                            weight_decay=weight_decay, schedule=v["schedule"], seed=v["seed"], device=v["device"])
        return RunSettings(data=data, model_name=v["model"], train=train)


def default_form_values() -> dict:
    """The form's defaults, taken from core's TrainConfig and DataSpec (imports torch: call after loading)."""
    from core.data import DataSpec
    from core.trainer import TrainConfig

    t, d = TrainConfig(), DataSpec()
    return {"dataset": d.name, "train_count": d.train_count, "model": "cnn", "epochs": t.epochs,
            "batch_size": t.batch_size, "lr": t.lr, "optimizer": t.optimizer, "weight_decay": t.weight_decay,
            "schedule": t.schedule, "seed": t.seed, "device": t.device}
