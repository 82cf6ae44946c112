"""The Train tab's settings fields (data and model shown, training, insight and advanced edited), bound to one
RunSettingsModel. The form holds two: the user's own, bound to the window's shared model, and a read-only
one bound to a private model that shows a followed run's config.json (gui/training/form.py switches).

The fields are made from core.catalog.TRAIN_OPTIONS (the schema TrainConfig and `layerscope train`'s options
come from too): one field per setting, in the group the catalogue names (Training, Insight, Advanced), of the
kind its value needs (a spin box for a whole number, a line edit for a fraction, a combo box for a choice, a
check box for on/off), with the catalogue's label, limits and help. Advanced starts collapsed.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core import catalog
from gui.run_settings_model import (
    TRAIN_FORM_OPTIONS,
    OwnerLink,
    RunSettingsModel,
    bind_check,
    bind_combo,
    bind_line,
    bind_spin,
)

# The fields by attribute name (TrainingPanel exposes the user's own under the same names): each setting's key,
# and "processes" for nproc.
FIELD_NAMES = ("dataset_link", "model_link", "processes", *TRAIN_FORM_OPTIONS)
GROUP_TITLES = {"training": "Training", "insight": "Insight", "advanced": "Advanced"}
# What a catalogue option's `suits` looks at: the run's data and model (owned by the Data and Model tabs).
RUN_SHAPE_KEYS = ("dataset", "image_size", "model", "model_options")
# Where the app says more than the catalogue's help (which is written for the CLI too).
TOOLTIPS = {"nproc": "Training processes on this machine. 1 trains inside the app; more start a separate DDP job "
                     "(one per GPU, or gloo on the CPU). The batch size is global: it is split over the processes."}


def make_field(setting: catalog.Setting) -> QWidget:
    """The widget that edits one catalogue setting."""
    if isinstance(setting, catalog.NumberSetting) and setting.integer:
        widget = QSpinBox()
        widget.setRange(int(setting.minimum), int(setting.maximum))
        widget.setSuffix(f" {setting.unit}" if setting.unit else "")
        widget.setSpecialValueText(setting.zero if setting.minimum == 0 else "")
        widget.setSingleStep(int(setting.step or 1))
    elif isinstance(setting, catalog.NumberSetting):
        widget = QLineEdit()
        widget.setPlaceholderText(f"{setting.default:g}")
    elif isinstance(setting, catalog.ChoiceSetting):
        widget = QComboBox()
        for choice in setting.choices:
            widget.addItem(choice.name)
            widget.setItemData(widget.count() - 1, choice.help or choice.title, Qt.ItemDataRole.ToolTipRole)
    elif isinstance(setting, catalog.FlagSetting):
        widget = QCheckBox(setting.label)
    else:
        raise TypeError(f"no field for {setting!r}")
    widget.setToolTip(TOOLTIPS.get(setting.key, setting.help))
    return widget


def bind_field(settings: RunSettingsModel, key: str, widget: QWidget) -> None:
    if isinstance(widget, QSpinBox):
        bind_spin(settings, key, widget)
    elif isinstance(widget, QLineEdit):
        bind_line(settings, key, widget)
    elif isinstance(widget, QComboBox):
        bind_combo(settings, key, widget)
    else:
        bind_check(settings, key, widget)


class CollapsibleSection(QWidget):
    """A titled section whose content shows only when its header is clicked open (closed at first)."""

    def __init__(self, title: str, content: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.content = content
        self.header = QToolButton()
        self.header.setObjectName("sectionHeader")
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setAutoRaise(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.header.toggled.connect(self.set_open)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(content)
        self.set_open(False)

    def is_open(self) -> bool:
        return self.header.isChecked()

    def set_open(self, open_: bool) -> None:
        if self.header.isChecked() != open_:
            self.header.setChecked(open_)  # comes back here through toggled
            return
        self.header.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.content.setVisible(open_)


class SettingsFields(QWidget):
    ownerRequested = Signal(str)  # "data" or "model": show the tab that owns a value shown here

    def __init__(self, settings: RunSettingsModel, parent: QWidget | None = None, find_lr_action=None):
        """find_lr_action: a button for it beside the learning rate (the user's own fields)."""
        super().__init__(parent)
        self.settings = settings
        self._editable = True
        self.find_lr_button: QToolButton | None = None
        if find_lr_action is not None:
            self.find_lr_button = QToolButton()
            self.find_lr_button.setDefaultAction(find_lr_action)
            self.find_lr_button.setObjectName("findLrButton")
        # Shown here, owned by the Data and Model tabs: a link opens the owner.
        self.dataset_link = OwnerLink(settings, "dataset", _dataset_text)
        self.model_link = OwnerLink(settings, "model", lambda name: catalog.MODELS[name].title)
        for link in (self.dataset_link, self.model_link):
            link.ownerRequested.connect(self.ownerRequested)
        # One field per setting of the Train form, bound to the model.
        self.fields: dict[str, QWidget] = {}
        for key, option in TRAIN_FORM_OPTIONS.items():
            self.fields[key] = make_field(option.setting)
            setattr(self, key, self.fields[key])
            bind_field(settings, key, self.fields[key])
        self.processes = self.fields["nproc"]
        self.editable_fields = list(self.fields.values())

        data_box = QGroupBox("Data and model")
        form = QFormLayout(data_box)
        form.addRow("Dataset", self.dataset_link)
        form.addRow("Model", self.model_link)
        self.forms = {group: self._group_form(group) for group in catalog.TRAIN_FORM_GROUPS}
        self.training_form = self.forms["training"]
        training_box, insight_box = QGroupBox(GROUP_TITLES["training"]), QGroupBox(GROUP_TITLES["insight"])
        training_box.setLayout(self.forms["training"])
        insight_box.setLayout(self.forms["insight"])
        advanced_box = QGroupBox()
        advanced_box.setLayout(self.forms["advanced"])
        self.advanced = CollapsibleSection(GROUP_TITLES["advanced"], advanced_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (data_box, training_box, insight_box, self.advanced):
            layout.addWidget(widget)
        self.boxes = (data_box, training_box, insight_box, advanced_box)
        settings.changed.connect(self._on_changed)
        self._update_enabled()

    def _group_form(self, group: str) -> QFormLayout:
        form = QFormLayout()
        for key, option in TRAIN_FORM_OPTIONS.items():
            if option.place != group:
                continue
            if isinstance(self.fields[key], QCheckBox):
                form.addRow(self.fields[key])  # the box carries its own label
            elif key == "lr" and self.find_lr_button is not None:
                row = QHBoxLayout()
                row.setContentsMargins(0, 0, 0, 0)
                row.addWidget(self.fields[key], 1)
                row.addWidget(self.find_lr_button)
                form.addRow(option.setting.label, row)
            else:
                form.addRow(option.setting.label, self.fields[key])
        return form

    # ---- enabling ------------------------------------------------------------------------------------
    def applies(self, key: str) -> bool:
        """False while the setting does not matter (momentum without SGD, gamma without the step schedule) or
        cannot be used by this run (feature pictures each epoch for 224 px images)."""
        option = TRAIN_FORM_OPTIONS[key]
        if option.when is not None and self.settings.get(option.when[0]) != option.when[1]:
            return False
        return option.suits is None or self.unsuited(key) is None

    def unsuited(self, key: str) -> str | None:
        """Why this run cannot use the setting (catalogue's `suits`), None when it can."""
        suits = TRAIN_FORM_OPTIONS[key].suits
        return None if suits is None else suits(self.settings.values(RUN_SHAPE_KEYS))

    def _on_changed(self, key: str, _value) -> None:
        if key in RUN_SHAPE_KEYS or any(o.when and o.when[0] == key for o in TRAIN_FORM_OPTIONS.values()):
            self._update_enabled()

    def _update_enabled(self) -> None:
        for key, widget in self.fields.items():
            widget.setEnabled(self._editable and self.applies(key))
            if TRAIN_FORM_OPTIONS[key].suits is not None:
                why = self.unsuited(key)
                help_text = TOOLTIPS.get(key, TRAIN_FORM_OPTIONS[key].setting.help)
                widget.setToolTip(help_text if why is None else f"{help_text}\n\nNot for this run: {why}.")

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        self._update_enabled()

    def set_read_only(self) -> None:
        """For a record of settings, not the next run: nothing edits, the owner links do not open the user's
        tabs, and what is not part of a run's config (Processes: how the app would run it) is not shown.
        Advanced still opens, to read."""
        for box in self.boxes:
            box.setEnabled(False)
        for link in (self.dataset_link, self.model_link):
            link.hide_link()
        for key, option in TRAIN_FORM_OPTIONS.items():
            if not option.config:
                self.forms[option.place].setRowVisible(self.fields[key], False)


def _dataset_text(name: str) -> str:
    info = catalog.DATASETS.get(name)
    return info.title if info is not None else name
