"""The Train tab's settings fields (data and model shown, training and insight edited), bound to one
RunSettingsModel. The form holds two: the user's own, bound to the window's shared model, and a read-only
one bound to a private model that shows a followed run's config.json (gui/training/form.py switches).

Choices, limits and defaults come from core.catalog.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QLineEdit, QSpinBox, QVBoxLayout, QWidget

from core import catalog
from gui.run_settings_model import OwnerLink, RunSettingsModel, bind_check, bind_combo, bind_line, bind_spin

# The fields by attribute name (TrainingPanel exposes the user's own under the same names).
FIELD_NAMES = ("dataset_link", "model_link", "epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule",
               "seed", "device", "processes", "early_stop_patience", "early_stop_metric", "dossier_topk",
               "layer_health_every")


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


class SettingsFields(QWidget):
    ownerRequested = Signal(str)  # "data" or "model": show the tab that owns a value shown here

    def __init__(self, settings: RunSettingsModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        # Shown here, owned by the Data and Model tabs: a link opens the owner.
        self.dataset_link = OwnerLink(settings, "dataset", _dataset_text)
        self.model_link = OwnerLink(settings, "model", lambda name: catalog.MODELS[name].title)
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
        bind_check(settings, "dossier_topk", self.dossier_topk)
        for key, box in (("epochs", self.epochs), ("batch_size", self.batch_size), ("seed", self.seed),
                         ("early_stop_patience", self.early_stop_patience), ("nproc", self.processes),
                         ("layer_health_every", self.layer_health_every)):
            bind_spin(settings, key, box)
        for key, box in (("optimizer", self.optimizer), ("schedule", self.schedule), ("device", self.device),
                         ("early_stop_metric", self.early_stop_metric)):
            bind_combo(settings, key, box)
        for key, edit in (("lr", self.lr), ("weight_decay", self.weight_decay)):
            bind_line(settings, key, edit)

        data_box = QGroupBox("Data and model")
        form = QFormLayout(data_box)
        form.addRow("Dataset", self.dataset_link)
        form.addRow("Model", self.model_link)
        opt_box = QGroupBox("Training")
        self.training_form = form2 = QFormLayout(opt_box)
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in (data_box, opt_box, insight_box):
            layout.addWidget(box)
        self.boxes = (data_box, opt_box, insight_box)
        self.editable_fields = [self.epochs, self.batch_size, self.lr, self.optimizer, self.weight_decay,
                                self.schedule, self.seed, self.device, self.processes, self.dossier_topk,
                                self.layer_health_every]

    def set_editable(self, editable: bool) -> None:
        for w in self.editable_fields:
            w.setEnabled(editable)

    def set_read_only(self) -> None:
        """For a record of settings, not the next run: nothing edits, the owner links do not open the user's
        tabs, and Processes (how the app would run it, not in config.json) is not shown."""
        for box in self.boxes:
            box.setEnabled(False)
        self.training_form.setRowVisible(self.processes, False)
