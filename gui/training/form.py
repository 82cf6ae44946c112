"""The Train tab's form: the optimisation settings it owns (epochs, batch size, learning rate, optimizer,
weight decay, schedule, seed, device), the dataset and model it only shows (the Data and Model tabs own
them), and the Train / Pause / Stop actions.

Every field is bound to the window's RunSettingsModel; choices, limits and defaults come from core.catalog.
The form is disabled until the engine has loaded (`set_engine_ready`).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLineEdit, QSizePolicy, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from core import catalog
from gui.run_settings_model import (FORM_KEYS, OwnerLink, RunSettingsModel, SettingsError, bind_check, bind_combo,
                                    bind_line, bind_spin, default_values)

__all__ = ["SettingsError", "TrainingPanel", "default_form_values"]


def _action(parent, text: str, shortcut: str, tip: str, *more: str) -> QAction:
    action = QAction(text, parent)
    action.setShortcuts([QKeySequence(k) for k in (shortcut, *more)])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    native = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip} ({native})")
    return action


def _spin(setting) -> QSpinBox:
    box = QSpinBox()
    box.setRange(int(setting.minimum), int(setting.maximum))
    box.setToolTip(setting.help)
    return box


def _combo(setting) -> QComboBox:
    box = QComboBox()
    for choice in setting.choices:
        box.addItem(choice.name)
        box.setItemData(box.count() - 1, choice.help or choice.title, Qt.ItemDataRole.ToolTipRole)
    box.setToolTip(setting.help)
    return box


def _dataset_text(name: str) -> str:
    info = catalog.DATASETS.get(name)
    return info.title if info is not None else name


class TrainingPanel(QWidget):
    trainRequested = Signal()
    pauseToggled = Signal()
    stopRequested = Signal()
    ownerRequested = Signal(str)  # "data" or "model": show the tab that owns a value shown here

    def __init__(self, settings: RunSettingsModel | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings if settings is not None else RunSettingsModel(parent=self)
        self._engine_ready = False
        self._state = "idle"

        self.train_action = _action(self, "&Train", "Ctrl+Return", "Start training with these settings",
                                    "Ctrl+Enter")  # the keypad's Enter too
        self.pause_action = _action(self, "&Pause", "Ctrl+P", "Pause or resume the run")
        self.stop_action = _action(self, "&Stop", "Ctrl+.", "Stop the run and save last.pt")
        self.train_action.triggered.connect(self.trainRequested)
        self.pause_action.triggered.connect(self.pauseToggled)
        self.stop_action.triggered.connect(self.stopRequested)

        # Shown here, owned by the Data and Model tabs: a link opens the owner.
        self.dataset_link = OwnerLink(self.settings, "dataset", _dataset_text)
        self.model_link = OwnerLink(self.settings, "model", lambda name: catalog.MODELS[name].title)
        for link in (self.dataset_link, self.model_link):
            link.ownerRequested.connect(self.ownerRequested)
        self.epochs = _spin(catalog.EPOCHS)
        self.batch_size = _spin(catalog.BATCH_SIZE)
        self.lr = QLineEdit()
        self.lr.setToolTip("Learning rate, e.g. 0.001 or 1e-3")
        self.optimizer = _combo(catalog.OPTIMIZER)
        self.weight_decay = QLineEdit()
        self.weight_decay.setToolTip(catalog.WEIGHT_DECAY.help)
        self.schedule = _combo(catalog.SCHEDULE)
        self.seed = _spin(catalog.SEED)
        self.device = _combo(catalog.DEVICE)
        # Early stopping: off (patience 0) by default; the plots mark the best epoch either way.
        self.early_stop_patience = _spin(catalog.EARLY_STOP_PATIENCE)
        self.early_stop_patience.setSpecialValueText("Off")
        self.early_stop_patience.setSuffix(" epochs")
        self.early_stop_metric = _combo(catalog.EARLY_STOP_METRIC)
        # Processes: 1 trains here, in the app; more start a DDP job (one per GPU, or gloo on the CPU).
        self.processes = _spin(catalog.NPROC)
        self.processes.setToolTip("Training processes on this machine. 1 trains inside the app; more start a "
                                  "separate DDP job (one per GPU, or gloo on the CPU). The batch size is global: "
                                  "it is split over the processes.")
        # Insight (off by default; both cost a little training time): what each channel learned, and how
        # each layer is learning. The Dossier tab reads what they write into RUN/dossier and the run folder.
        self.dossier_topk = QCheckBox("Top images per channel")
        self.dossier_topk.setToolTip(catalog.DOSSIER_TOPK.help)
        self.layer_health_every = _spin(catalog.LAYER_HEALTH_EVERY)
        self.layer_health_every.setSpecialValueText("Off")
        self.layer_health_every.setSuffix(" steps")
        self.layer_health_every.setSingleStep(catalog.LAYER_HEALTH_SUGGESTED)
        bind_check(self.settings, "dossier_topk", self.dossier_topk)
        for key, box in (("epochs", self.epochs), ("batch_size", self.batch_size), ("seed", self.seed),
                         ("early_stop_patience", self.early_stop_patience), ("nproc", self.processes),
                         ("layer_health_every", self.layer_health_every)):
            bind_spin(self.settings, key, box)
        for key, box in (("optimizer", self.optimizer), ("schedule", self.schedule), ("device", self.device),
                         ("early_stop_metric", self.early_stop_metric)):
            bind_combo(self.settings, key, box)
        for key, edit in (("lr", self.lr), ("weight_decay", self.weight_decay)):
            bind_line(self.settings, key, edit)

        data_box = QGroupBox("Data and model")
        form = QFormLayout(data_box)
        form.addRow("Dataset", self.dataset_link)
        form.addRow("Model", self.model_link)
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
        form2.addRow(catalog.NPROC.label, self.processes)
        form2.addRow(catalog.EARLY_STOP_PATIENCE.label, self.early_stop_patience)
        form2.addRow(catalog.EARLY_STOP_METRIC.label, self.early_stop_metric)

        insight_box = QGroupBox("Insight")
        form3 = QFormLayout(insight_box)
        form3.addRow(self.dossier_topk)
        form3.addRow("Layer health every", self.layer_health_every)

        self.train_button = self._button(self.train_action, "trainButton")
        self.pause_button = self._button(self.pause_action, "pauseButton")
        self.stop_button = self._button(self.stop_action, "stopButton")
        buttons = QHBoxLayout()
        for b in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addWidget(data_box)
        layout.addWidget(opt_box)
        layout.addWidget(insight_box)
        layout.addLayout(buttons)
        self.progress_slot = QVBoxLayout()  # the main window puts the progress panel here
        layout.addLayout(self.progress_slot)
        layout.addStretch(1)
        self._fields = [self.epochs, self.batch_size, self.lr, self.optimizer, self.weight_decay, self.schedule,
                        self.seed, self.device, self.processes, self.dossier_topk, self.layer_health_every]
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
    def set_engine_ready(self, ready: bool = True) -> None:
        """Train and the fields enable once PyTorch has loaded."""
        self._engine_ready = ready
        self._update_enabled()

    def set_state(self, state: str) -> None:
        self._state = state
        self._update_enabled()

    def _update_enabled(self) -> None:
        idle = self._state == "idle"
        self.train_action.setEnabled(self._engine_ready and idle)
        self.pause_action.setEnabled(self._state in ("running", "paused"))  # a multi-process job too
        self.pause_action.setText("&Resume" if self._state == "paused" else "&Pause")
        self.stop_action.setEnabled(self._state in ("running", "paused"))
        for w in self._fields:
            w.setEnabled(self._engine_ready and idle)

    # ---- values --------------------------------------------------------------------------------------
    def values(self) -> dict:
        """The run's remembered form values (the dataset and model too, which other tabs own)."""
        return self.settings.values(FORM_KEYS)

    def set_values(self, values: dict) -> None:
        """Apply the keys given to the run's settings; unusable values are skipped."""
        self.settings.update(values)

    def run_settings(self):
        """The run's settings as core's RunSettings. Raises SettingsError naming a bad field."""
        return self.settings.build()


def default_form_values() -> dict:
    """The form's defaults (core.catalog's)."""
    return {k: v for k, v in default_values().items() if k in FORM_KEYS}
